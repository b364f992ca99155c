using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Presence.Internal;

namespace Presence;

/// <summary>
/// Options of the presence engine. Defaults follow Synapse, the most used implementation; every rule is
/// configurable. <see cref="PresenceEngine.Create"/> validates them and names the option at fault.
/// </summary>
public sealed class PresenceOptions
{
    /// <summary>The default <see cref="IdleTimeout"/>: five minutes.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The default <see cref="SyncTimeout"/>: thirty seconds.</summary>
    public static readonly TimeSpan DefaultSyncTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default <see cref="BusyTimeout"/>: one hour.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromHours(1);

    /// <summary>The default <see cref="LastActiveGranularity"/>: one minute.</summary>
    public static readonly TimeSpan DefaultLastActiveGranularity = TimeSpan.FromMinutes(1);

    /// <summary>The default <see cref="ClientBatchWindow"/>: ten seconds, the lower end of seed 000's range.</summary>
    public static readonly TimeSpan DefaultClientBatchWindow = TimeSpan.FromSeconds(10);

    /// <summary>The default <see cref="MaxStatusMessageLength"/>.</summary>
    public const int DefaultMaxStatusMessageLength = 1024;

    /// <summary>The default <see cref="MaxDevicesPerUser"/>.</summary>
    public const int DefaultMaxDevicesPerUser = 64;

    /// <summary>The default <see cref="MaxPresenceListSize"/>.</summary>
    public const int DefaultMaxPresenceListSize = 1000;

    /// <summary>The default <see cref="MembershipCacheCapacity"/>.</summary>
    public const int DefaultMembershipCacheCapacity = 4_000_000;

    /// <summary>The default <see cref="EvictAfter"/>: ten minutes.</summary>
    public static readonly TimeSpan DefaultEvictAfter = TimeSpan.FromMinutes(10);

    /// <summary>The default <see cref="StreamRetention"/>: 50,000 positions.</summary>
    public const int DefaultStreamRetention = 50_000;

    /// <summary>The smallest <see cref="StreamRetention"/>.</summary>
    public const int MinStreamRetention = 1_024;

    /// <summary>The largest <see cref="StreamRetention"/>.</summary>
    public const int MaxStreamRetention = 10_000_000;

    /// <summary>The default <see cref="IncludeOfflineUsersOnSync"/>: <see langword="false"/>, as Synapse's <c>include_offline_users_on_sync</c>.</summary>
    public const bool DefaultIncludeOfflineUsersOnSync = false;

    /// <summary>The largest <see cref="ShardCount"/>.</summary>
    public const int MaxShardCount = 1024;

    /// <summary>The default <see cref="ShutdownTimeout"/>: five seconds.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The longest delivery window accepted: one minute (seed 000: "10 seconds to a minute").</summary>
    public static readonly TimeSpan MaxClientBatchWindow = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets this homeserver's name. Only its users' presence can be set here. Required.</summary>
    /// <value>There is no default; it must be set.</value>
    public ServerName ServerName { get; set; }

    /// <summary>Gets or sets how long an online device may go without activity before it counts as unavailable.</summary>
    /// <value>The default value is five minutes. Must be longer than <see cref="LastActiveGranularity"/>.</value>
    [PositiveDuration]
    public TimeSpan IdleTimeout { get; set; } = DefaultIdleTimeout;

    /// <summary>Gets or sets how long a device may go without a sync or activity before it is dropped.</summary>
    /// <value>The default value is thirty seconds.</value>
    [PositiveDuration]
    public TimeSpan SyncTimeout { get; set; } = DefaultSyncTimeout;

    /// <summary>Gets or sets how long a busy device may go without a sync or activity before it is dropped.</summary>
    /// <value>The default value is one hour. Must be at least <see cref="SyncTimeout"/>.</value>
    [PositiveDuration]
    public TimeSpan BusyTimeout { get; set; } = DefaultBusyTimeout;

    /// <summary>
    /// Gets or sets the last-active granularity: a user counts as currently active while their last activity is
    /// younger than this, and last-active changes smaller than this are not published.
    /// </summary>
    /// <value>The default value is one minute.</value>
    [PositiveDuration]
    public TimeSpan LastActiveGranularity { get; set; } = DefaultLastActiveGranularity;

    /// <summary>Gets or sets whether the busy state (MSC3026, <c>org.matrix.msc3026.busy</c>) may be set.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool EnableBusy { get; set; }

    /// <summary>Gets or sets how long changes are gathered before a batch goes to a local user's subscription; zero delivers at once.</summary>
    /// <value>The default value is ten seconds; at most one minute.</value>
    [DurationRange("00:00:00", "00:01:00")]
    public TimeSpan ClientBatchWindow { get; set; } = DefaultClientBatchWindow;

    /// <summary>Gets or sets the longest status message accepted, in UTF-16 code units.</summary>
    /// <value>The default value is 1024.</value>
    [Range(1, 65536)]
    public int MaxStatusMessageLength { get; set; } = DefaultMaxStatusMessageLength;

    /// <summary>Gets or sets how many devices a user may have connected; beyond it the least recently seen device is dropped.</summary>
    /// <value>The default value is 64; at most 255.</value>
    [Range(1, 255)]
    public int MaxDevicesPerUser { get; set; } = DefaultMaxDevicesPerUser;

    /// <summary>Gets or sets how many entries one user's presence list may hold.</summary>
    /// <value>The default value is 1000.</value>
    [Range(1, int.MaxValue)]
    public int MaxPresenceListSize { get; set; } = DefaultMaxPresenceListSize;

    /// <summary>
    /// Gets or sets how many memberships the engine caches from the membership view, counting each room member and each
    /// room in a user's list once; beyond it the oldest cached rooms and users are evicted (and asked again when needed).
    /// </summary>
    /// <value>The default value is 4,000,000 (roughly 100 MB at the measured bytes per membership).</value>
    [Range(1, int.MaxValue)]
    public int MembershipCacheCapacity { get; set; } = DefaultMembershipCacheCapacity;

    /// <summary>
    /// Gets or sets how many positions of the presence stream are kept (changes published, and retractions or reveals told to
    /// one viewer). A <c>/sync</c> token older than this window gets a full snapshot instead of the changes since it. Each
    /// retained position costs about 140 bytes (the snapshot, its ring slot and its index entry), so memory for the stream is
    /// bounded by roughly 140 B × this value.
    /// </summary>
    /// <value>The default value is 50,000 (about 7 MB at most, held only once that many changes were published); between 1,024 and 10,000,000.</value>
    public int StreamRetention { get; set; } = DefaultStreamRetention;

    /// <summary>
    /// Gets or sets whether full snapshots of the presence stream (an initial sync, or a token from before a restart or older
    /// than <see cref="StreamRetention"/>) include users who are offline. Changes to offline are always sent.
    /// </summary>
    /// <value>The default value is <see langword="false"/>, as Synapse's <c>include_offline_users_on_sync</c>.</value>
    public bool IncludeOfflineUsersOnSync { get; set; } = DefaultIncludeOfflineUsersOnSync;

    /// <summary>Gets or sets how long disposal waits for pending store writes.</summary>
    /// <value>The default value is five seconds.</value>
    [PositiveDuration]
    public TimeSpan ShutdownTimeout { get; set; } = DefaultShutdownTimeout;

    /// <summary>
    /// Gets the rooms that share no presence (large public rooms, where presence fan-out explodes): the engine neither caches
    /// nor asks about them, and sharing one makes no users visible to each other.
    /// </summary>
    /// <value>The default value is empty.</value>
    public ISet<string> ExcludedRooms { get; private set; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets how long a local user nobody needs stays in memory: offline with no devices, no subscriptions, nothing
    /// owed to another server, no pending store write. After it the user leaves memory; their record stays in the store and
    /// is read again when needed. Remote users leave when their presence goes stale.
    /// </summary>
    /// <value>The default value is 10 minutes.</value>
    [PositiveDuration]
    public TimeSpan EvictAfter { get; set; } = DefaultEvictAfter;

    /// <summary>
    /// Gets or sets how many shards local presence is spread over (by a stable hash of the user ID); each shard has its own
    /// lock, so device signals for users of different shards run in parallel. Zero picks eight per processor.
    /// </summary>
    /// <value>The default value is 0 (eight per processor, at most <see cref="MaxShardCount"/>).</value>
    [Range(0, MaxShardCount)]
    public int ShardCount { get; set; }

    /// <summary>Gets the options of presence between servers (batching, retries, watchdogs).</summary>
    [ValidateObjectMembers]
    public PresenceFederationOptions Federation { get; private set; } = new();

    internal PresenceOptions Clone()
    {
        var copy = (PresenceOptions)MemberwiseClone();
        copy.Federation = Federation.Clone();
        copy.ExcludedRooms = new HashSet<string>(ExcludedRooms, StringComparer.Ordinal);
        return copy;
    }
}
