import { VDomModel } from '@jupyterlab/ui-components';

import { MlopsApiError } from '../api';

/** What a request is doing. */
export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error';

/** Something read from the server: its value, whether it is loading, and why it failed. */
export interface ILoadable<T> {
  readonly status: LoadStatus;
  readonly value: T | null;
  readonly error: MlopsApiError | null;
}

/**
 * One resource of a panel's model and its loading. Only the newest `load` counts: an answer
 * that arrives after a newer call (or a `reset`, or the model's disposal) is dropped. Every
 * change emits the owning model's `stateChanged`. The value shown before stays while loading.
 */
export class Loader<T> implements ILoadable<T> {
  constructor(owner: VDomModel, options: Loader.IOptions = {}) {
    this._owner = owner;
    this._keepValueOnError = options.keepValueOnError ?? false;
    this._background = options.background ?? false;
  }

  get status(): LoadStatus {
    return this._status;
  }
  get value(): T | null {
    return this._value;
  }
  get error(): MlopsApiError | null {
    return this._error;
  }

  /**
   * Fetch the value. `onValue` runs once the answer is stored and before the change is emitted,
   * for state that changes with it. Resolves to the value if this call's answer was kept, else
   * (it failed or was superseded) to null.
   */
  async load(
    fetch: () => Promise<T>,
    onValue?: (value: T) => void
  ): Promise<T | null> {
    const request = ++this._request;
    if (!this._background || this._status === 'idle') {
      this._status = 'loading';
      this._error = null;
      this._changed();
    }
    let value: T;
    try {
      value = await fetch();
    } catch (reason) {
      if (this._isCurrent(request)) {
        this._status = 'error';
        this._error = MlopsApiError.from(reason);
        if (!this._keepValueOnError) {
          this._value = null;
        }
        this._changed();
      }
      return null;
    }
    if (!this._isCurrent(request)) {
      return null;
    }
    this._value = value;
    this._status = 'ready';
    this._error = null;
    onValue?.(value);
    this._changed();
    return value;
  }

  /** Replace the value with one known without asking (e.g. an action's answer). */
  set(value: T): void {
    this._value = value;
    this._changed();
  }

  /** Back to idle with no value; an answer still on its way is dropped. */
  reset(): void {
    ++this._request;
    this._status = 'idle';
    this._value = null;
    this._error = null;
    this._changed();
  }

  private _isCurrent(request: number): boolean {
    return request === this._request && !this._owner.isDisposed;
  }

  private _changed(): void {
    if (!this._owner.isDisposed) {
      this._owner.stateChanged.emit();
    }
  }

  private _owner: VDomModel;
  private _keepValueOnError: boolean;
  private _background: boolean;
  private _status: LoadStatus = 'idle';
  private _value: T | null = null;
  private _error: MlopsApiError | null = null;
  private _request = 0;
}

export namespace Loader {
  export interface IOptions {
    /** Keep showing the previous value after a failed load (a list); default: drop it (a detail). */
    keepValueOnError?: boolean;
    /**
     * Reload in the background: once loaded, the status and error stay as they are until the
     * answer arrives (for polling, so the view does not flash "loading" every few seconds).
     */
    background?: boolean;
  }
}
