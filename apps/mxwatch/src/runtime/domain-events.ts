import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';

/**
 * Lets metrics forget a domain the moment it is deleted or disabled (its series must not go
 * stale), without the domains module depending on them.
 */
@Injectable()
export class DomainEvents {
  private readonly emitter = new EventEmitter();

  emitDeleted(name: string): void {
    this.emitter.emit('deleted', name);
  }

  onDeleted(listener: (name: string) => void): void {
    this.emitter.on('deleted', listener);
  }
}
