import { VDomModel } from '@jupyterlab/ui-components';

import {
  IFeatureUsage,
  IFeatureViewDetail,
  IFeatureViewDiff,
  IFeatureViewStats,
  IFeatureViewSummary,
  MlopsApiError,
  MlopsClient
} from '../../api';
import { LoadStatus } from '../experiments/model';

/** One piece of a view's page, loaded on its own so a slow part never holds up the others. */
export interface IPart<T> {
  readonly status: LoadStatus;
  readonly value: T | null;
  readonly error: MlopsApiError | null;
}

/** A part and its loading; the value shown before stays until an answer or error replaces it. */
class Part<T> implements IPart<T> {
  constructor(changed: () => void) {
    this._changed = changed;
  }

  status: LoadStatus = 'idle';
  value: T | null = null;
  error: MlopsApiError | null = null;

  async load(fetch: () => Promise<T>): Promise<void> {
    const request = ++this._request;
    this.status = 'loading';
    this.error = null;
    this._changed();
    try {
      const value = await fetch();
      if (request === this._request) {
        this.value = value;
        this.status = 'ready';
        this._changed();
      }
    } catch (reason) {
      if (request === this._request) {
        this.value = null;
        this.error = MlopsApiError.from(reason);
        this.status = 'error';
        this._changed();
      }
    }
  }

  private _changed: () => void;
  private _request = 0;
}

/**
 * State of one "Feature view" tab: the shown version's definition and statistics, every version
 * with a diff between two of them, and who uses each version.
 */
export class FeatureViewModel extends VDomModel {
  constructor(options: FeatureViewModel.IOptions) {
    super();
    this._client = options.client;
    this.name = options.name;
  }

  /** The view's name. */
  readonly name: string;

  /** The version shown; null follows the latest. */
  get version(): number | null {
    return this._version;
  }
  /** The version number actually shown (the latest one's number when following the latest). */
  get shownVersion(): number | null {
    return this._version ?? this.latestVersion;
  }
  get latestVersion(): number | null {
    return (
      this._parts.versions.value?.[0]?.version ??
      this._parts.detail.value?.versions ??
      null
    );
  }

  get detail(): IPart<IFeatureViewDetail> {
    return this._parts.detail;
  }
  get stats(): IPart<IFeatureViewStats> {
    return this._parts.stats;
  }
  /** Newest first. */
  get versions(): IPart<IFeatureViewSummary[]> {
    return this._parts.versions;
  }
  get usage(): IPart<IFeatureUsage> {
    return this._parts.usage;
  }
  get diff(): IPart<IFeatureViewDiff> {
    return this._parts.diff;
  }
  get diffFrom(): number | null {
    return this._diffFrom;
  }
  get diffTo(): number | null {
    return this._diffTo;
  }

  /** Load everything (again). */
  async load(): Promise<void> {
    await Promise.all([
      this._loadVersion(),
      this._parts.versions
        .load(() => this._client.listFeatureViewVersions(this.name))
        .then(() => this._defaultDiff()),
      this._parts.usage.load(() => this._client.getFeatureViewUsage(this.name))
    ]);
  }

  /** Show another version (null: the latest). */
  async setVersion(version: number | null): Promise<void> {
    if (version === this._version) {
      return;
    }
    this._version = version;
    await this._loadVersion();
  }

  /** Diff two versions; the same version on both sides shows no change without asking. */
  async setDiffRange(from: number, to: number): Promise<void> {
    this._diffFrom = from;
    this._diffTo = to;
    await this._parts.diff.load(() =>
      this._client.diffFeatureView(this.name, from, to)
    );
  }

  private _loadVersion(): Promise<unknown> {
    const options = this._version === null ? {} : { version: this._version };
    return Promise.all([
      this._parts.detail.load(() =>
        this._client.getFeatureView(this.name, options)
      ),
      this._parts.stats.load(() =>
        this._client.getFeatureViewStats(this.name, options)
      )
    ]);
  }

  /** With two versions or more, diff the latest against the one before it. */
  private async _defaultDiff(): Promise<void> {
    const versions = this._parts.versions.value;
    if (!versions || versions.length < 2 || this._diffTo !== null) {
      return;
    }
    await this.setDiffRange(versions[1].version, versions[0].version);
  }

  private _client: MlopsClient;
  private _version: number | null = null;
  private _parts = {
    detail: this._part<IFeatureViewDetail>(),
    stats: this._part<IFeatureViewStats>(),
    versions: this._part<IFeatureViewSummary[]>(),
    usage: this._part<IFeatureUsage>(),
    diff: this._part<IFeatureViewDiff>()
  };
  private _diffFrom: number | null = null;
  private _diffTo: number | null = null;

  private _part<T>(): Part<T> {
    return new Part<T>(() => {
      if (!this.isDisposed) {
        this.stateChanged.emit();
      }
    });
  }
}

export namespace FeatureViewModel {
  export interface IOptions {
    client: MlopsClient;
    name: string;
  }
}
