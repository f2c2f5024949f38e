// Types of the BAI mini-program client's public API: what index.js exports (its parts in lib/ are
// internal). Shapes from spec/openapi-wx.yaml: UserInfo, CompanyInfo, the attachment of
// POST /pb/api/wechat/upload, PocketBase's records and list answer.

/** What wx's fail callbacks receive, e.g. {errMsg: "request:fail timeout"}. */
export interface WxFailResult {
  errMsg: string;
}

/** The options of wx.request as the client passes them (developers.weixin.qq.com, wx.request). */
export interface WxRequestOptions {
  url: string;
  method: 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT';
  /** The client always sends a JSON string (undefined for GET: the query is in the url). */
  data?: string;
  header: Record<string, string>;
  /** 'json' (calls: res.data arrives parsed); realtime sets responseType instead. */
  dataType?: 'json' | string;
  responseType?: 'text' | 'arraybuffer';
  /** Realtime only: the body is handed to RequestTask.onChunkReceived as it arrives (base library 2.20.2+). */
  enableChunked?: boolean;
  /** Milliseconds. */
  timeout: number;
  /** Called for any HTTP status; data is parsed JSON when dataType is 'json' and it parses, else a string. */
  success(res: { statusCode: number; data: unknown; header: Record<string, string>; errMsg: string }): void;
  /** No answer: network failure, timeout ("request:fail timeout"), abort ("request:fail abort"). */
  fail(res: WxFailResult): void;
}

/** What wx.request returns: realtime reads the stream with onChunkReceived and stops it with abort. */
export interface WxRequestTask {
  abort(): void;
  /** Each piece of the body as an ArrayBuffer, cut anywhere (even inside a UTF-8 character). */
  onChunkReceived?(listener: (res: { data: ArrayBuffer }) => void): void;
}

/** The options of wx.uploadFile as the client passes them. */
export interface WxUploadFileOptions {
  url: string;
  /** A temporary file path (chooseAvatar, chooseMedia...); a missing one fails with "uploadFile:fail file not found". */
  filePath: string;
  /** The multipart part: always "file". */
  name: string;
  header: Record<string, string>;
  timeout: number;
  /** data is the answer's text whatever its type (the client parses it). */
  success(res: { statusCode: number; data: string; header?: Record<string, string>; errMsg: string }): void;
  fail(res: WxFailResult): void;
}

/** The options of wx.login as the client passes them. */
export interface WxLoginOptions {
  timeout: number;
  success(res: { code: string; errMsg: string }): void;
  fail(res: WxFailResult): void;
}

/** The wx APIs the client uses (the mini-program's global `wx` has them all). */
export interface WxLike {
  request(options: WxRequestOptions): WxRequestTask | unknown;
  uploadFile(options: WxUploadFileOptions): unknown;
  login(options: WxLoginOptions): unknown;
  /** The token (a string) under storageKey, true under storageKey + ":signed_out"; "" when missing. */
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: string | boolean): void;
  removeStorageSync(key: string): void;
  /** Read by client.inviterPromoCode() when given no options. */
  getLaunchOptionsSync?(): LaunchOrPageOptions;
}

export interface ClientOptions {
  /**
   * The stack's PocketBase prefix, e.g. "https://bai-api.blv-oa.com/pb" (no trailing slash needed).
   * Without "/api" (the client adds "/api/..."): createClient throws a TypeError for one ending in "/api".
   */
  baseUrl: string;
  /**
   * The wx storage key of the token; default "bai_auth_token". storageKey + ":signed_out" marks an
   * explicit logout or closeAccount (removed by login()).
   */
  storageKey?: string;
  /** The wx to use; default the global `wx` (tests pass a fake). */
  wx?: WxLike;
  /** Milliseconds wx.request and wx.login wait; default 10000. */
  timeout?: number;
  /** Milliseconds wx.uploadFile waits; default 60000. */
  uploadTimeout?: number;
}

/** The company a user belongs to (CompanyInfo). */
export interface CompanyInfo {
  pb_id?: string;
  company_id?: string;
  company_name?: string;
  company_type?: string;
  company_entity?: string;
  company_usci?: string;
  company_nationality?: string;
  company_nationality_code?: string;
  company_province?: string;
  company_province_code?: string;
  company_city?: string;
  company_city_code?: string;
  company_district?: string;
  company_district_code?: string;
  company_postalcode?: string;
  company_add?: string;
  company_status?: string;
  company_level?: string;
  company_owner_openid?: string;
  company_remark?: string;
  created?: string;
  updated?: string;
}

/** A user as our routes answer it (components.schemas.UserInfo). */
export interface UserInfo {
  pb_id?: string;
  users_convers_id?: string;
  users_id?: string;
  users_idtype?: 'WeChat' | 'ManagePlatform' | string;
  users_id_number?: string;
  users_type?: '游客' | '注册用户' | string;
  users_name?: string;
  users_status?: string | number;
  users_rank_level?: number | string;
  users_auth_type?: number | string;
  users_phone?: string;
  users_phone_masked?: string;
  users_level?: string;
  users_tag?: string;
  /** attachments_id of the avatar; users_picture_url is its file URL. */
  users_picture?: string;
  users_picture_url?: string;
  users_id_pic_a?: string;
  users_id_pic_a_url?: string;
  users_id_pic_b?: string;
  users_id_pic_b_url?: string;
  users_title_picture?: string;
  users_title_picture_url?: string;
  openid?: string;
  company_id?: string;
  /** The users_id of whoever brought the user (set at registration only: login's inviterPromoCode). */
  users_parent_id?: string;
  /** The user's promo code (推广码): made at registration, never changing; what their share codes carry. */
  users_promo_code?: string;
  usergroups_id?: string;
  company?: CompanyInfo | null;
  created?: string;
  updated?: string;
}

/** What POST /api/wechat/login resolves. */
export interface LoginResult {
  status: 'register_success' | 'login_success' | string;
  is_info_complete: boolean | string;
  user: UserInfo;
}

/** The fields POST /api/wechat/profile takes; only non-empty ones change. */
export interface ProfileFields {
  users_name?: string;
  /** The code of <button open-type="getPhoneNumber">; wins over users_phone. */
  users_phone_code?: string;
  users_phone?: string;
  users_tag?: string;
  /** attachments_id values (for example from client.upload). */
  users_picture?: string;
  users_id_pic_a?: string;
  users_id_pic_b?: string;
  users_title_picture?: string;
}

/** The attachment POST /api/wechat/upload answers (issue #17). */
export interface Attachment {
  attachments_id: string;
  attachments_filename: string;
  /** The MIME type sniffed from the bytes. */
  attachments_filetype: string;
  attachments_size: number;
  attachments_md5: string;
  attachments_owner: string;
  attachments_status: string;
  /** The file's URL, exactly as UserInfo's *_url fields give it. */
  url: string;
}

/** login()'s options (issue #29). */
export interface LoginOptions {
  /** The promo code of whoever shared the mini-program (client.inviterPromoCode()); applied at registration only. */
  inviterPromoCode?: string;
}

/** shareCode()'s options: the page (one of the server's SHARE_PAGES; default its first) and width in px. */
export interface ShareCodeOptions {
  page?: string;
  /** 280-1280; default 430 (wxacode.getUnlimited's). */
  width?: number;
}

/** What POST /api/wechat/share-code resolves: the user's mini-program code (小程序码). */
export interface ShareCode {
  promo_code: string;
  /** The code's scene (the promo code): what the opened page reads as options.scene. */
  scene: string;
  page: string;
  width: number;
  /** The image (JPEG or PNG), public by design: for <image src> or wx.previewImage. */
  url: string;
}

/** wx.getLaunchOptionsSync()'s answer ({query, scene: <number>}) or a page's onLoad options (the query). */
export interface LaunchOrPageOptions {
  query?: Record<string, string>;
  scene?: string | number;
  inviter_promo_code?: string;
  [key: string]: unknown;
}

/** What logout and closeAccount resolve. */
export interface AccountActionData {
  status: 'logout_success' | 'close_success' | string;
}

/** Fields every PocketBase record has. */
export interface RecordModel {
  id: string;
  collectionId: string;
  collectionName: string;
  created?: string;
  updated?: string;
  [field: string]: unknown;
}

/** PocketBase's list answer, as it gives it. */
export interface ListResult<T = RecordModel> {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: T[];
}

/** Query parameters of PocketBase's records API (filter: build it with client.filter). */
export interface ListOptions {
  filter?: string;
  sort?: string;
  expand?: string;
  fields?: string;
  skipTotal?: boolean | number;
  [param: string]: unknown;
}

export interface RecordQuery {
  expand?: string;
  fields?: string;
  [param: string]: unknown;
}

/** PocketBase's records API of one collection; answers are PocketBase's own. */
export interface RecordService<T = RecordModel> {
  getList(page?: number, perPage?: number, options?: ListOptions): Promise<ListResult<T>>;
  /** The first match; an ApiError with status 404 when none. */
  getFirstListItem(filter: string, options?: ListOptions): Promise<T>;
  getOne(id: string, query?: RecordQuery): Promise<T>;
  create(body: Partial<T> | Record<string, unknown>, query?: RecordQuery): Promise<T>;
  /** A PATCH of the record (sent through PocketBase's batch API: wx.request has no PATCH). */
  update(id: string, body: Partial<T> | Record<string, unknown>, query?: RecordQuery): Promise<T>;
}

export type CompanyRecord = RecordModel & CompanyInfo;

export type FilterValue = string | number | boolean | null | undefined | Date | object;

/**
 * expr with every {:name} replaced by params[name] quoted and escaped (PocketBase JS SDK's pb.filter
 * convention, backslashes escaped too, placeholders replaced in one pass):
 * client.filter('company_id = {:id}', {id}) is safe for any string.
 */
export function filter(expr: string, params?: Record<string, FilterValue>): string;

/**
 * An event's contents as PocketBase sends it to an EventSource: the action and the record (the fields the
 * rules and the subscription's fields/expand let the user see).
 */
export interface RealtimeEvent<T = RecordModel> {
  action: 'create' | 'update' | 'delete';
  record: T;
}

/** A subscription's options, serialized into its topic as PocketBase's JS SDK does. */
export interface SubscribeOptions {
  expand?: string;
  filter?: string;
  fields?: string;
  query?: Record<string, unknown>;
  headers?: Record<string, string>;
  [param: string]: unknown;
}

/** The options of myUploads. */
export interface MyUploadsOptions {
  /** Default 1. */
  page?: number;
  /** Default 30 (PocketBase allows up to 1000). */
  perPage?: number;
  /** PocketBase's sort; default "-created" (newest first). */
  sort?: string;
  /** A PocketBase filter within the caller's own uploads (build it with client.filter). */
  filter?: string;
}

/** An attachment record as PocketBase's records API gives it (the hidden fields are not in it). */
export type AttachmentRecord = RecordModel & Omit<Attachment, 'url'> & { attachments_link?: string };

/** The collections the client knows; collection() and subscribe() throw a TypeError for any other name. */
export type CollectionName = 'tbl_company' | 'tbl_attachments' | 'tbl_document' | 'tbl_auth_users' | 'view_user_info';

/** One piece of an event stream: what an EventSource's MessageEvent carries. */
export interface EventStreamEvent {
  /** The event name ("message" when the stream gave none); PocketBase names events by subscription. */
  type: string;
  data: string;
  lastEventId: string;
}

/**
 * The event-stream parser of the HTML standard, fed chunks as they come (ArrayBuffers of UTF-8 cut
 * anywhere, or strings): push returns the events each chunk completes; end drops an unfinished one.
 */
export function createEventStreamParser(): {
  push(chunk: ArrayBuffer | Uint8Array | string): EventStreamEvent[];
  end(): EventStreamEvent[];
};

/** The one error every call rejects with. */
export class ApiError extends Error {
  name: 'ApiError';
  /** HTTP status; 0 for a network failure, a timeout or a missing file. */
  status: number;
  /** Our envelope's code, or PocketBase's status. */
  code: number | string;
  /**
   * A short Chinese sentence to show: our envelope's msg as it is; for PocketBase's own errors one by
   * status and kind (筛选条件有误, 提交的内容有误, 登录已失效,请重新登录, 无权访问, 记录不存在, 文件过大,
   * 请求过于频繁,请稍后再试, 服务暂不可用,请稍后再试); with no answer 网络请求失败,请检查网络,
   * 请求超时,请稍后再试 or 文件不存在,请重新选择.
   */
  msg: string;
  /**
   * Our envelope's data ({} when none; data.field names a refused field); for PocketBase's errors its
   * whole answer {status, message, data} (data.data: the refused fields); data.errMsg is wx's for status 0.
   */
  data: Record<string, any>;
  constructor(status: number, code: number | string, msg: string, data?: Record<string, any>);
}

export interface Client {
  /** The stored token ("" when none). */
  readonly token: string;
  /** The last UserInfo a login, profile or bindPhone answered in this run (null until then). */
  readonly user: UserInfo | null;
  /**
   * wx.login, then POST /api/wechat/login (registers on first login); stores the token. The one way back
   * after logout() or closeAccount(): it removes the signed-out marker.
   */
  login(options?: LoginOptions): Promise<LoginResult>;
  /** Incremental profile update; profile({}) reads the current user. */
  profile(fields?: ProfileFields): Promise<UserInfo>;
  /** The code of <button open-type="getPhoneNumber"> becomes the user's phone. */
  bindPhone(code: string): Promise<UserInfo>;
  /** wx.uploadFile of a temporary file path (e.g. from chooseAvatar) to POST /api/wechat/upload. */
  upload(filePath: string): Promise<Attachment>;
  /** A new token now; resolves it (after logout or closeAccount: rejects with 401, as calls that need a token). */
  refresh(): Promise<string>;
  /** The number of users (public, never logs in). */
  usersCount(): Promise<number>;
  /**
   * Logout everywhere; the stored token is forgotten and the client is signed out (even when the call
   * fails): until login(), calls that need a token (profile, bindPhone, upload, refresh) reject with an
   * ApiError of status 401 ("已退出登录,请重新登录") without calling wx.login, also after a new
   * createClient (a marker under storageKey + ":signed_out"). Public calls keep working. A 401 for any
   * other reason (token expired, logout on another device) still logs in again silently.
   */
  logout(): Promise<AccountActionData>;
  /** Close the account (the user record is deleted); once done, signed out as after logout(). */
  closeAccount(): Promise<AccountActionData>;
  /** The user's mini-program code of a page, made once by WeChat and stored; rejects with WeChat's errors worded. */
  shareCode(options?: ShareCodeOptions): Promise<ShareCode>;
  /** inviterPromoCode(options), by default of wx.getLaunchOptionsSync(). */
  inviterPromoCode(options?: LaunchOrPageOptions): string;
  /** PocketBase's records API of a collection the client knows (a TypeError at once for any other name). */
  collection(name: 'tbl_company'): RecordService<CompanyRecord>;
  collection(name: 'tbl_attachments'): RecordService<AttachmentRecord>;
  collection<T = RecordModel>(name: CollectionName): RecordService<T>;
  filter: typeof filter;
  /** The caller's own uploads (logs in when needed): PocketBase's list of tbl_attachments. */
  myUploads(options?: MyUploadsOptions): Promise<ListResult<AttachmentRecord>>;
  /**
   * PocketBase's realtime over wx.request({enableChunked}): callback for each create / update / delete of
   * the topic ("*": the collection, by its list rule; a record id: that record, by its view rule) the
   * user may see; the token goes with the topics. One connection for all subscriptions; after a network
   * loss or PocketBase's idle close it reconnects (200 ms to 2 s apart) and sends every topic again
   * (events in between are not replayed: re-read what matters). Resolves an unsubscribe function once
   * PocketBase has the topic; rejects with an ApiError when the first connection fails.
   */
  subscribe(collection: 'tbl_attachments', topic: string,
    callback: (event: RealtimeEvent<AttachmentRecord>) => void, options?: SubscribeOptions): Promise<() => Promise<void>>;
  subscribe<T = RecordModel>(collection: CollectionName, topic: string,
    callback: (event: RealtimeEvent<T>) => void, options?: SubscribeOptions): Promise<() => Promise<void>>;
  /**
   * Removes the subscriptions of a topic (any options), of a collection (no topic), or all (no argument);
   * the connection closes with the last one.
   */
  unsubscribe(collection?: CollectionName, topic?: string): Promise<void>;
  /**
   * GET /api/wechat/subscribe: the configured subscribe message templates and the user's grants left. The ids
   * are kept, so that a later requestSubscribe asks wx at once, inside the tap (call this when the page loads).
   */
  subscribeTemplates(): Promise<SubscribeGrants>;
  /**
   * wx.requestSubscribeMessage for the templates of these names (our names, e.g. 'picture_removed'; a name the
   * server does not configure is skipped), then POST /api/wechat/subscribe with what the user accepted. Must be
   * called from a tap handler (WeChat's rule). Rejects with an ApiError of status 0 (data.errCode, data.errMsg:
   * wx's) when wx.requestSubscribeMessage fails.
   */
  requestSubscribe(names: string | string[]): Promise<SubscribeResult>;
}

/** GET /api/wechat/subscribe's data. */
export interface SubscribeGrants {
  /** Our template name -> WeChat's template id. */
  templates: Record<string, string>;
  /** Our template name -> messages the server may still send to this user (one per accepted grant). */
  counts: Record<string, number>;
}

/** What requestSubscribe resolves: the names the user accepted and declined, and the counts after. */
export interface SubscribeResult {
  accepted: string[];
  /** Declined ('reject'), banned by WeChat ('ban') or filtered ('filter'): no grant. */
  rejected: string[];
  counts: Record<string, number>;
}

export function createClient(options: ClientOptions): Client;

/**
 * The inviter's promo code a launch or page carries: the query's scene (a scanned mini-program code, URL-encoded)
 * or inviter_promo_code (a shared link); "" when none.
 */
export function inviterPromoCode(options?: LaunchOrPageOptions): string;
