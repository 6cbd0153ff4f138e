// Types for pvault's Node client (protocol 1). Field names are the wire names (snake_case),
// exactly as protocol.md documents them.

import { EventEmitter } from 'node:events';

export const PROTOCOL_MAJOR: 1;
export const PROTOCOL_MINOR: number;
/** Largest message (one line) either side accepts: 64 MiB. */
export const MAX_MESSAGE_BYTES: number;
/** Largest document reassembled from a chunked `profileExport` (512 MiB). */
export const MAX_CHUNKED_BYTES: number;

export type ErrorCode =
  | 'invalid_argument' | 'not_found' | 'conflict' | 'busy' | 'locked' | 'auth_failed'
  | 'too_large' | 'unsupported' | 'browser_error' | 'logged_out' | 'internal'
  | 'remote_unavailable' | 'remote_tampered';
export const ERROR_CODES: readonly ErrorCode[];

/** One expectation of a login health definition (protocol 1.8). */
export type Expectation =
  | { type: 'cookie'; name: string; domain?: string }
  | { type: 'local_storage'; origin: string; key: string }
  | { type: 'selector'; css: string }
  | { type: 'url_not'; regex: string }
  | { type: 'text'; text: string };
/** A profile's login health definition. */
export interface HealthDefinition { url: string; expect: Expectation[] }
/** What a health check found (kept in the profile; the `profile.health` event carries it). */
export interface HealthResult {
  status: 'healthy' | 'logged_out';
  checked_at: number;
  since: number;
  snapshot_seq: number | null;
  final_url: string | null;
  http_status: number | null;
  failed: { expectation: string; reason: string }[];
}
/** Every finding kind `vaultVerify()` knows (protocol 1.5). */
export const FINDING_KINDS: readonly FindingKind[];
/** Every record a finding can name (protocol 1.5). */
export const FINDING_RECORDS: readonly FindingRecord[];
/** Method name → the parameter a plain string first argument stands for (or null). */
export const METHODS: Readonly<Record<string, string | null>>;

/** A pvaultd error (`code` is stable) or `unavailable` when no daemon answers. */
export class PvaultError extends Error {
  readonly name: 'PvaultError';
  readonly code: ErrorCode | 'unavailable';
  readonly method?: string;
  /** The daemon's explanation, without the method or the hint. */
  readonly detail: string;
  /** What the user can do about it, when the daemon said (protocol 1.4). */
  readonly hint?: string;
  /** The same error, attributed to `method`. */
  forMethod(method: string): PvaultError;
  /** Set by withProfile when ending the session failed after the callback threw. */
  cleanupError?: unknown;
}

export type Credential = { passphrase: string } | { key_file: string };
export function passphrase(text: string): Credential;
/** Reads the file when given a path; the bytes travel base64-encoded. */
export function keyFile(bytesOrPath: Buffer | string): Credential;
/** `$PVAULT_SOCKET`, else `$XDG_RUNTIME_DIR/pvault/pvaultd.sock`, else `/tmp/pvault-<uid>/pvaultd.sock`. */
export function socketPath(env?: NodeJS.ProcessEnv, uid?: number): string;

export interface ConnectOptions {
  socketPath?: string;
  clientName?: string;
  /** Cap on incoming lines (default MAX_MESSAGE_BYTES): a longer one fails with `too_large`. */
  maxMessageBytes?: number;
  /** Requests larger than this are refused locally with `too_large` (default MAX_MESSAGE_BYTES). */
  maxRequestBytes?: number;
  /** Connect and handshake timeout (default 10000). */
  timeoutMs?: number;
}

export interface ProtocolVersion { major: number; minor: number }
export interface Ack {}
export interface Viewport { width: number; height: number }
export interface SessionSettings { proxy?: string; viewport?: Viewport; userAgent?: string; locale?: string }
export type SnapshotKind = 'import' | 'session_save' | 'capture' | 'checkpoint' | 'restore';
export interface SnapshotInfo {
  id: string; seq: number; created_at: number; kind: SnapshotKind; content_hash: string;
  size_bytes: number; cookie_count: number; origin_count: number; local_storage_key_count: number;
  /** 0 for snapshots written before schema 2. */
  session_storage_key_count: number; indexed_db_record_count: number;
}
export type ExportFormat = 'playwright' | 'pvault';
export interface ExportResponse {
  snapshot: SnapshotInfo; state: StorageState; left_out: string[];
  state_bytes?: number; state_chunks?: number;
}
export interface ProfileInfo {
  id: string; name: string; description?: string; settings: SessionSettings; created_at: number;
  updated_at: number; last_used_at?: number; snapshot_count: number; latest?: SnapshotInfo;
  cookie_domains: string[]; origins: string[];
}
/** A Playwright storageState. */
export interface StorageState {
  pvault?: 1;
  cookies: Array<Record<string, unknown>>;
  origins: Array<{ origin: string; localStorage: Array<{ name: string; value: string }>; sessionStorage?: Array<{ name: string; value: string }>; indexedDB?: any[] }>;
}

export interface HelloResponse { protocol: ProtocolVersion; daemon_version: string; pid: number }
export interface StatusResponse {
  pid: number; version: string; protocol: ProtocolVersion; socket: string | null; home: string;
  vault_path: string; vault_exists: boolean; locked: boolean; auto_lock_secs: number;
  auto_lock_remaining_secs: number | null; uptime_secs: number; profile_count: number | null;
  retention: number; connections: number; sessions: number; config_reloads: number;
  config_error: string | null;
}
export type SessionState = 'running' | 'stopping' | 'ended' | 'crashed';
export interface SessionInfo {
  session_id: string; cdp_ws_url: string; pid: number | null; profile: string | null; save: boolean;
  attached: boolean; started_at: number;
  /** Treat an unknown value like 'ended'. */
  state: SessionState | string; ended_at?: number; browser?: string;
  /** Running sessions: CDP clients connected through the relay now. */
  clients?: number;
  /** The inactivity timeout in force and the seconds left (absent while a client is connected). */
  timeout_secs?: number; timeout_left_secs?: number;
  /** `save` sessions: what the crash-safe checkpoints did so far. */
  checkpoints?: CheckpointStats;
}
export interface CheckpointStats {
  captures: number; written: number; last_capture_at: number | null; last_capture_ms: number | null;
  total_capture_ms: number;
}
/** Why a session ended (`session.ended`'s `reason`); treat an unknown value like 'stopped'. */
export type EndReason = 'stopped' | 'discarded' | 'detached' | 'shutdown' | 'disconnected'
  | 'timed_out' | 'browser_closed' | string;
export interface LoadReport { snapshot: SnapshotInfo | null; cookies_loaded: number; origins_loaded: number; failures: string[] }
export interface CaptureReport { cookies: number; origins: number; failures: string[] }
export interface SessionStartParams {
  profile?: string; save?: boolean; headful?: boolean; kiosk?: boolean; start_url?: string;
  viewport?: Viewport; proxy?: string; user_agent?: string; locale?: string; extensions?: string[];
  timeout_secs?: number;
}
export interface SessionStartResponse { session: SessionInfo; load: LoadReport | null; profile_created?: boolean }

/** A finding's kind (protocol 1.5); a newer daemon may add kinds: show the `message`. */
export type FindingKind = 'unreadable' | 'not_checkable' | 'edited' | 'missing' | 'reordered'
  | 'rolled_back' | 'unexpected' | 'content_mismatch' | 'anchor_mismatch' | 'count_mismatch' | 'current_mismatch'
  | 'went_back' | string;
/** The record a finding is about. */
export type FindingRecord = 'wrapped_dk' | 'meta' | 'name_hash' | 'snapshot_info' | 'snapshot_body'
  | 'history' | string;
/** One problem `vault.verify` found (protocol.md §5.2 "Verify findings"). */
export interface VerifyFinding {
  /** Profile id. */
  profile: string;
  /** Snapshot id, when the finding is about one snapshot row. */
  snapshot?: string;
  /** The snapshot's seq, or the seq of a missing one. */
  seq?: number;
  record: FindingRecord;
  kind: FindingKind;
  /** For `edited`: the plaintext column that disagrees with its sealed copy. */
  column?: string;
  /** For `unreadable`: the read error's stable code. */
  code?: string;
  /** The finding in one line for people (its line in `failures`). */
  message: string;
}
export interface VerifyResponse { ok: boolean; records: number; failures: string[]; findings: VerifyFinding[] }

/** Unknown event names (added in minor versions) must be ignored. */
export interface PvaultEvent {
  event: 'vault.locked' | 'vault.unlocked' | 'snapshot.saved' | 'session.started' | 'session.saved'
    | 'session.ended' | 'session.crashed' | string;
  data: any;
}

type Named<P> = [name: string, rest?: Omit<P, 'name'>] | [params: P];

export class Client extends EventEmitter {
  /** The daemon's answer to the handshake. */
  readonly server: HelloResponse;
  readonly closed: boolean;
  /** Any method by its wire name; resolves with `result`. */
  call<T = any>(method: string, params?: object): Promise<T>;
  /** Events arrive as `event` ({ event, data }) and under their own name. */
  subscribe(handler?: (ev: PvaultEvent) => void): Promise<Ack>;
  close(): void;

  hello(params: { protocol: number; minor?: number; client?: string }): Promise<HelloResponse>;
  status(): Promise<StatusResponse>;
  daemonShutdown(): Promise<Ack>;

  vaultInit(params: { credential: Credential }): Promise<{ vault_id: string; vault_path: string }>;
  vaultUnlock(params: { credential: Credential }): Promise<{ vault_id: string; kdf_ms: number; auto_lock_secs: number }>;
  vaultLock(): Promise<Ack>;
  vaultPasswd(params: { old: Credential; new: Credential }): Promise<Ack>;
  /** `findings` is `[]` from a daemon older than protocol 1.5 (its `failures` say it all). */
  vaultVerify(): Promise<VerifyResponse>;
  vaultBackup(...a: [path: string] | [params: { path: string }]): Promise<{ path: string; size_bytes: number }>;

  profileCreate(...a: Named<{ name: string; description?: string; settings?: SessionSettings }>): Promise<{ profile: ProfileInfo }>;
  profileList(params?: { offset?: number; limit?: number }): Promise<{ profiles: ProfileInfo[]; total: number; offset: number }>;
  profileShow(...a: Named<{ name: string }>): Promise<{ profile: ProfileInfo }>;
  profileRename(...a: Named<{ name: string; new_name: string }>): Promise<{ profile: ProfileInfo }>;
  profileUpdate(...a: Named<{ name: string; description?: string; clear_description?: boolean; settings?: SessionSettings }>): Promise<{ profile: ProfileInfo }>;
  profileDelete(...a: Named<{ name: string }>): Promise<Ack>;
  profileImport(...a: Named<{ name: string; state: StorageState; create?: boolean }>): Promise<{ profile: ProfileInfo; snapshot: SnapshotInfo; created: boolean }>;
  /**
   * `format`: 'playwright' (default; what it cannot hold is named in `left_out`, names only)
   * or 'pvault' (everything). Sent with `chunked: true` and reassembled into `state`, so a
   * snapshot larger than one message exports too.
   */
  profileExport(...a: Named<{ name: string; snapshot?: string; format?: ExportFormat; chunked?: boolean }>): Promise<ExportResponse>;
  profileHistory(...a: Named<{ name: string }>): Promise<{ profile_id: string; snapshots: SnapshotInfo[] }>;
  profileDiff(...a: Named<{ name: string; from?: string; to?: string }>): Promise<{ from: SnapshotInfo; to: SnapshotInfo; diff: any }>;
  profileRestore(...a: Named<{ name: string; snapshot: string }>): Promise<{ snapshot: SnapshotInfo; restored_from: SnapshotInfo }>;
  /** Login health (protocol 1.8): sets the profile's definition (at least one expectation). */
  profileHealthSet(...a: Named<{ name: string; url: string; expect: Expectation[] }>): Promise<{ profile: ProfileInfo }>;
  profileHealthShow(...a: Named<{ name: string }>): Promise<{ profile: string; profile_id: string; health: HealthDefinition | null; result: HealthResult | null; expiring: { expectation: string; expires: number }[] }>;
  profileHealthClear(...a: Named<{ name: string }>): Promise<{ profile: ProfileInfo }>;
  /** A headless read-only check of the current snapshot; `browser_error` when the page does not load. */
  profileCheck(...a: Named<{ name: string; timeout_secs?: number }>): Promise<{ profile: string; profile_id: string; result: HealthResult }>;
  /** Makes a snapshot the logout guard marked current (the newest by default). */
  profileAccept(...a: Named<{ name: string; snapshot?: string }>): Promise<{ snapshot: SnapshotInfo }>;

  sessionStart(...a: [profile: string, rest?: Omit<SessionStartParams, 'profile'>] | [params?: SessionStartParams]): Promise<SessionStartResponse>;
  sessionList(): Promise<{ sessions: SessionInfo[] }>;
  sessionShow(...a: [sessionId: string] | [params: { session_id: string }]): Promise<{ session: SessionInfo }>;
  sessionStop(...a: [sessionId: string, rest?: { discard?: boolean }] | [params: { session_id: string; discard?: boolean }]): Promise<{ session_id: string; snapshot: SnapshotInfo | null; capture: CaptureReport | null }>;
  sessionCapture(...a: [sessionId: string, rest: { into: string }] | [params: { session_id: string; into: string }]): Promise<{ profile: string; snapshot: SnapshotInfo; capture: CaptureReport }>;
  sessionLoad(...a: [sessionId: string, rest: { profile: string }] | [params: { session_id: string; profile: string }]): Promise<{ load: LoadReport }>;
  sessionAttach(...a: [cdpUrl: string] | [params: { cdp_url: string }]): Promise<SessionStartResponse>;

  on(event: 'event', listener: (ev: PvaultEvent) => void): this;
  on(event: 'close', listener: (reason: PvaultError) => void): this;
  on(event: string, listener: (data: any) => void): this;
}

export function connect(options?: ConnectOptions): Promise<Client>;

export interface WithProfileOptions extends ConnectOptions, Omit<SessionStartParams, 'profile' | 'save'> {
  /** Save the session's final state into the profile when it ends. */
  save?: boolean;
  /** With `save`, whether to save also when the callback throws (default true). */
  saveOnError?: boolean;
  /** Playwright's `chromium` (default: playwright-core or playwright, resolved from the caller). */
  chromium?: { connectOverCDP(url: string): Promise<any> };
  /** An open client to reuse (left open afterwards). */
  client?: Client;
}

export interface ProfileSession {
  /** Playwright's Browser (connected over CDP). */
  browser: any;
  /** The browser's default context, holding the profile's cookies and storage. */
  context: any;
  /** Its first page. */
  page: any;
  session: SessionInfo;
  /** Whether `save: true` created the profile because it did not exist. */
  profileCreated: boolean;
  client: Client;
}

export function withProfile<T>(profile: string, options: WithProfileOptions, fn: (s: ProfileSession) => Promise<T> | T): Promise<T>;
export function withProfile<T>(profile: string, fn: (s: ProfileSession) => Promise<T> | T): Promise<T>;
