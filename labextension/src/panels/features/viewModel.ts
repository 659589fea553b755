import { VDomModel } from '@jupyterlab/ui-components';

import {
  IFeatureUsage,
  IFeatureViewDetail,
  IFeatureViewDiff,
  IFeatureViewStats,
  IFeatureViewSummary,
  MlopsClient
} from '../../api';
import { ILoadable, Loader } from '../load';

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

  get detail(): ILoadable<IFeatureViewDetail> {
    return this._parts.detail;
  }
  get stats(): ILoadable<IFeatureViewStats> {
    return this._parts.stats;
  }
  /** Newest first. */
  get versions(): ILoadable<IFeatureViewSummary[]> {
    return this._parts.versions;
  }
  get usage(): ILoadable<IFeatureUsage> {
    return this._parts.usage;
  }
  get diff(): ILoadable<IFeatureViewDiff> {
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
  // Each part loads on its own, so a slow one never holds up the others.
  private _parts = {
    detail: new Loader<IFeatureViewDetail>(this),
    stats: new Loader<IFeatureViewStats>(this),
    versions: new Loader<IFeatureViewSummary[]>(this),
    usage: new Loader<IFeatureUsage>(this),
    diff: new Loader<IFeatureViewDiff>(this)
  };
  private _diffFrom: number | null = null;
  private _diffTo: number | null = null;
}

export namespace FeatureViewModel {
  export interface IOptions {
    client: MlopsClient;
    name: string;
  }
}
