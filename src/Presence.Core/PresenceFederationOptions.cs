namespace Presence;

/// <summary>
/// Options of presence between servers: batching, retries, watchdogs, staleness and inbound caps. Set through
/// <see cref="PresenceOptions.Federation"/>; batching and retries apply only when the engine has an <see cref="IPresenceTransport"/>.
/// Defaults follow seed 000 ("API Efficiency") and today's Matrix servers.
/// </summary>
public sealed class PresenceFederationOptions
{
    /// <summary>The default <see cref="BatchWindow"/>: ten seconds.</summary>
    public static readonly TimeSpan DefaultBatchWindow = TimeSpan.FromSeconds(10);

    /// <summary>The shortest <see cref="BatchWindow"/> accepted: ten seconds (seed 000: "10 seconds to a minute").</summary>
    public static readonly TimeSpan MinBatchWindow = TimeSpan.FromSeconds(10);

    /// <summary>The longest <see cref="BatchWindow"/> accepted: one minute.</summary>
    public static readonly TimeSpan MaxBatchWindow = TimeSpan.FromMinutes(1);

    /// <summary>The default <see cref="LazyWindow"/>: one minute.</summary>
    public static readonly TimeSpan DefaultLazyWindow = TimeSpan.FromMinutes(1);

    /// <summary>The longest <see cref="LazyWindow"/> accepted: five minutes.</summary>
    public static readonly TimeSpan MaxLazyWindow = TimeSpan.FromMinutes(5);

    /// <summary>The default <see cref="SpecPeerRefreshInterval"/>: twenty minutes.</summary>
    public static readonly TimeSpan DefaultSpecPeerRefreshInterval = TimeSpan.FromMinutes(20);

    /// <summary>The longest <see cref="SpecPeerRefreshInterval"/> accepted: twenty-four minutes, so a re-send (sent within the batch window) lands before a peer's 30-minute expiry with room to spare.</summary>
    public static readonly TimeSpan MaxSpecPeerRefreshInterval = TimeSpan.FromMinutes(24);

    /// <summary>The default <see cref="MaxMembershipLookupsPerMessage"/>.</summary>
    public const int DefaultMaxMembershipLookupsPerMessage = 100;

    /// <summary>The default <see cref="MaxEntriesPerMessage"/>.</summary>
    public const int DefaultMaxEntriesPerMessage = 500;

    /// <summary>The default <see cref="RetryInitialDelay"/>: one second.</summary>
    public static readonly TimeSpan DefaultRetryInitialDelay = TimeSpan.FromSeconds(1);

    /// <summary>The default <see cref="RetryMaxDelay"/>: five minutes.</summary>
    public static readonly TimeSpan DefaultRetryMaxDelay = TimeSpan.FromMinutes(5);

    /// <summary>The default <see cref="FailureHorizon"/>: one hour.</summary>
    public static readonly TimeSpan DefaultFailureHorizon = TimeSpan.FromHours(1);

    /// <summary>The default <see cref="ShortWatchdog"/>: one minute.</summary>
    public static readonly TimeSpan DefaultShortWatchdog = TimeSpan.FromMinutes(1);

    /// <summary>The default <see cref="LongWatchdog"/>: one hour.</summary>
    public static readonly TimeSpan DefaultLongWatchdog = TimeSpan.FromHours(1);

    /// <summary>The default <see cref="RemoteStaleAfter"/>: thirty minutes, what today's servers expect.</summary>
    public static readonly TimeSpan DefaultRemoteStaleAfter = TimeSpan.FromMinutes(30);

    /// <summary>The default <see cref="SendTimeout"/>: thirty seconds.</summary>
    public static readonly TimeSpan DefaultSendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default <see cref="DefaultPromiseLifetime"/>: two hours.</summary>
    public static readonly TimeSpan DefaultDefaultPromiseLifetime = TimeSpan.FromHours(2);

    /// <summary>The default <see cref="MaxRemoteUsersPerPeer"/>.</summary>
    public const int DefaultMaxRemoteUsersPerPeer = 50_000;

    /// <summary>The default <see cref="MaxPendingInvitesPerPeer"/>.</summary>
    public const int DefaultMaxPendingInvitesPerPeer = 1000;

    /// <summary>The default <see cref="MaxInboundEntriesPerMessage"/>.</summary>
    public const int DefaultMaxInboundEntriesPerMessage = 1000;

    /// <summary>The default <see cref="MaxSubscriptionsPerPeer"/>.</summary>
    public const int DefaultMaxSubscriptionsPerPeer = 10_000;

    /// <summary>Gets or sets how long changes for one server are gathered before they are sent: each server gets at most one message per window (more when split), with the sends of different servers spread across the window.</summary>
    /// <value>The default value is ten seconds; between ten seconds and one minute.</value>
    public TimeSpan BatchWindow { get; set; } = DefaultBatchWindow;

    /// <summary>
    /// Gets or sets how long a cosmetic change (last-active movement, <c>currently_active</c> becoming true) may wait for
    /// a server: it rides along with anything sent there earlier, and is sent by itself only when this passes.
    /// </summary>
    /// <value>The default value is one minute; between <see cref="BatchWindow"/> and five minutes.</value>
    public TimeSpan LazyWindow { get; set; } = DefaultLazyWindow;

    /// <summary>
    /// Gets or sets how often a server that only speaks the specification (it never sent this protocol's keys) is re-sent
    /// every user of ours it may see who is not offline, in one message at a phase of its own: such servers drop a remote
    /// user after 30 minutes without an update.
    /// </summary>
    /// <value>The default value is twenty minutes; between one and twenty-four minutes.</value>
    public TimeSpan SpecPeerRefreshInterval { get; set; } = DefaultSpecPeerRefreshInterval;

    /// <summary>
    /// Gets or sets how many membership-view lookups one inbound message may cause (polls of users whose rooms are not
    /// cached); polls beyond it are dropped and counted. Polls are first checked for the user's existence and the peer's
    /// known interest, which cost no lookup.
    /// </summary>
    /// <value>The default value is 100.</value>
    public int MaxMembershipLookupsPerMessage { get; set; } = DefaultMaxMembershipLookupsPerMessage;

    /// <summary>Gets or sets the most entries one message carries (pushes, polls, unpolls and list requests together); a larger batch is split.</summary>
    /// <value>The default value is 500; at most 1000, what a receiver reads of one message.</value>
    public int MaxEntriesPerMessage { get; set; } = DefaultMaxEntriesPerMessage;

    /// <summary>Gets or sets the delay before the first retry of a failed send; each further failure doubles it, with jitter.</summary>
    /// <value>The default value is one second.</value>
    public TimeSpan RetryInitialDelay { get; set; } = DefaultRetryInitialDelay;

    /// <summary>Gets or sets the longest delay between retries.</summary>
    /// <value>The default value is five minutes.</value>
    public TimeSpan RetryMaxDelay { get; set; } = DefaultRetryMaxDelay;

    /// <summary>Gets or sets how long a server may keep failing before its queue is dropped and its subscriptions to this server's users end.</summary>
    /// <value>The default value is one hour.</value>
    public TimeSpan FailureHorizon { get; set; } = DefaultFailureHorizon;

    /// <summary>Gets or sets the short watchdog: a server not heard from for this long is sent a reminder and asked again.</summary>
    /// <value>The default value is one minute.</value>
    public TimeSpan ShortWatchdog { get; set; } = DefaultShortWatchdog;

    /// <summary>Gets or sets the long watchdog: a server that sent no reminder for this long is sent one and asked again, whatever the traffic. Spread across servers.</summary>
    /// <value>The default value is one hour.</value>
    public TimeSpan LongWatchdog { get; set; } = DefaultLongWatchdog;

    /// <summary>Gets or sets how long a remote user's presence stays valid without an update, for servers that never send reminders (Synapse, Dendrite, conduwuit); then it is unknown.</summary>
    /// <value>The default value is thirty minutes.</value>
    public TimeSpan RemoteStaleAfter { get; set; } = DefaultRemoteStaleAfter;

    /// <summary>Gets or sets how long one send may take before it counts as failed (and is retried).</summary>
    /// <value>The default value is thirty seconds.</value>
    public TimeSpan SendTimeout { get; set; } = DefaultSendTimeout;

    /// <summary>
    /// Gets or sets how long presence from a server that sends reminders stays valid without a push or reminder,
    /// when its message states no promise lifetime; then it is unknown and asked for again. Also stated in the
    /// reminders this engine sends.
    /// </summary>
    /// <value>The default value is two hours (twice the default long watchdog).</value>
    public TimeSpan DefaultPromiseLifetime { get; set; } = DefaultDefaultPromiseLifetime;

    /// <summary>Gets or sets how many users of one peer the engine holds presence for; pushes for more are dropped and counted.</summary>
    /// <value>The default value is 50,000.</value>
    public int MaxRemoteUsersPerPeer { get; set; } = DefaultMaxRemoteUsersPerPeer;

    /// <summary>Gets or sets how many unanswered presence-list invites one peer may have made to this server's users; more are dropped and counted.</summary>
    /// <value>The default value is 1000.</value>
    public int MaxPendingInvitesPerPeer { get; set; } = DefaultMaxPendingInvitesPerPeer;

    /// <summary>Gets or sets the most entries taken from one inbound message; the rest are dropped and counted.</summary>
    /// <value>The default value is 1000.</value>
    public int MaxInboundEntriesPerMessage { get; set; } = DefaultMaxInboundEntriesPerMessage;

    /// <summary>Gets or sets how many of this server's users one peer may subscribe to; further requests are dropped and counted.</summary>
    /// <value>The default value is 10,000.</value>
    public int MaxSubscriptionsPerPeer { get; set; } = DefaultMaxSubscriptionsPerPeer;

    internal PresenceFederationOptions Clone() => (PresenceFederationOptions)MemberwiseClone();
}
