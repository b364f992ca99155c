namespace Presence;

/// <summary>
/// The presence engine: the host's client API feeds it device signals and explicit settings, and it
/// decides each user's presence, when it changed enough to tell anyone, and who may see it.
/// </summary>
/// <remarks>
/// <para>Device signals (<see cref="Heartbeat"/>, <see cref="ReportActivity"/> and the rest) are synchronous and
/// cheap: a heartbeat that changes nothing does not allocate. They are for local users only and throw
/// <see cref="ArgumentException"/> for a user of another server, an empty device ID or bad values.</para>
/// <para>Call <see cref="StartAsync"/> once before anything else; it loads what the store holds.
/// Calls made before it completes throw <see cref="InvalidOperationException"/>.</para>
/// </remarks>
public interface IPresenceEngine : IAsyncDisposable
{
    /// <summary>Loads persisted presence and starts the engine's timers. Idempotent.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes when the engine accepts calls.</returns>
    ValueTask StartAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that a device is syncing (connected). Call when a sync request starts and when it ends; a
    /// device that neither syncs nor acts for the sync timeout is dropped. A new device starts in the user's
    /// last requested state.
    /// </summary>
    /// <param name="user">The local user.</param>
    /// <param name="deviceId">The device.</param>
    /// <param name="setPresence">The sync request's <c>set_presence</c>, if given: the device's state from now on — except that it never replaces busy (a user who set busy stays busy until they set something else).</param>
    void Heartbeat(UserId user, string deviceId, PresenceState? setPresence = null);

    /// <summary>
    /// Records a pro-active event from a device (sending a message, for example): the user's last-active time
    /// moves to now, an idle device stops being idle, and an unavailable device comes back online.
    /// </summary>
    /// <param name="user">The local user.</param>
    /// <param name="deviceId">The device.</param>
    void ReportActivity(UserId user, string deviceId);

    /// <summary>
    /// Records once that a device has been idle for <paramref name="idleFor"/>. The engine infers when idleness
    /// began and keeps it current without further messages; the device counts as unavailable until it is
    /// active again or <see cref="CancelIdle"/> is called.
    /// </summary>
    /// <param name="user">The local user.</param>
    /// <param name="deviceId">The device.</param>
    /// <param name="idleFor">How long the device has been idle: zero to 365 days.</param>
    void ReportIdle(UserId user, string deviceId, TimeSpan idleFor);

    /// <summary>Ends a device's idleness: the user is back at it, which counts as activity.</summary>
    /// <param name="user">The local user.</param>
    /// <param name="deviceId">The device.</param>
    void CancelIdle(UserId user, string deviceId);

    /// <summary>
    /// Records what kind of device this is; watchers see the kinds of a user's connected devices. Called before
    /// the device's first <see cref="Heartbeat"/>, it connects the device with its kind in one change.
    /// </summary>
    /// <param name="user">The local user.</param>
    /// <param name="deviceId">The device.</param>
    /// <param name="kind">Exactly one kind.</param>
    void SetDeviceKind(UserId user, string deviceId, DeviceKinds kind);

    /// <summary>Drops a device at once (logout, closed connection).</summary>
    /// <param name="user">The local user.</param>
    /// <param name="deviceId">The device.</param>
    void Disconnect(UserId user, string deviceId);

    /// <summary>
    /// Sets a user's presence explicitly (<c>PUT /presence/{userId}/status</c>): the device's state becomes
    /// <paramref name="state"/> and the status message is replaced — <see langword="null"/> or empty clears it.
    /// Setting online or busy counts as activity; unavailable and offline keep the old last-active time.
    /// </summary>
    /// <param name="user">The local user.</param>
    /// <param name="deviceId">The device the request came from.</param>
    /// <param name="state">Online, unavailable, offline, or busy when enabled.</param>
    /// <param name="statusMessage">The new status message.</param>
    /// <returns>The user's presence after the change.</returns>
    PresenceSnapshot SetPresence(UserId user, string deviceId, PresenceState state, string? statusMessage);

    /// <summary>
    /// Reads <paramref name="target"/>'s presence on behalf of <paramref name="viewer"/>. Allowed when they are the
    /// same user, or when the target's visibility lets the viewer see them (sharing a room, an accepted presence-list
    /// entry); otherwise <see cref="PresenceReadResult.NotAllowed"/>. A user about whom nothing is known reads as
    /// <see cref="PresenceState.Unknown"/>.
    /// </summary>
    /// <param name="viewer">Who asks.</param>
    /// <param name="target">Whose presence.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The result.</returns>
    ValueTask<PresenceReadResult> GetPresenceAsync(UserId viewer, UserId target, CancellationToken cancellationToken = default);

    /// <summary>Opens a local user's feed of the presence changes they may see.</summary>
    /// <param name="viewer">The local user.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The subscription; dispose it to close.</returns>
    ValueTask<IPresenceSubscription> SubscribeAsync(UserId viewer, CancellationToken cancellationToken = default);

    /// <summary>
    /// Tells the engine that <paramref name="user"/> (local or remote) joined a room. The engine updates what it cached of the
    /// room and the user, and each pair of users who newly share a room receives the other's current presence (local feeds,
    /// and the local user's presence to a server that newly shares a room with them). Rooms in
    /// <c>PresenceOptions.ExcludedRooms</c> are ignored.
    /// </summary>
    /// <param name="user">The user who joined.</param>
    /// <param name="roomId">The room.</param>
    /// <param name="cancellationToken">Cancels waiting for the membership view; the change itself is applied at once.</param>
    /// <returns>A task that completes when caches and deliveries are updated.</returns>
    ValueTask UserJoinedRoomAsync(UserId user, string roomId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Tells the engine that <paramref name="user"/> left a room (or was kicked or banned). Servers that no longer share a
    /// room with a local user, and have no other reason to, stop receiving that user's presence.
    /// </summary>
    /// <param name="user">The user who left.</param>
    /// <param name="roomId">The room.</param>
    /// <param name="cancellationToken">Cancels the update.</param>
    /// <returns>A task that completes when caches are updated.</returns>
    ValueTask UserLeftRoomAsync(UserId user, string roomId, CancellationToken cancellationToken = default);

    /// <summary>Sets who may see a local user's presence; enforced for reads, local delivery and everything sent to other servers. Persisted.</summary>
    /// <param name="user">The local user.</param>
    /// <param name="visibility">Who may see it.</param>
    void SetVisibility(UserId user, PresenceVisibility visibility);

    /// <summary>
    /// Adds <paramref name="target"/> to <paramref name="owner"/>'s presence list: the entry is pending until the target
    /// allows or denies it. A local target sees the request in <see cref="GetPendingRequests"/>; a remote target's server
    /// is asked (<c>m.presence_invite</c>). Adding an entry that exists changes nothing.
    /// </summary>
    /// <param name="owner">The local user whose list it is.</param>
    /// <param name="target">The user to watch.</param>
    /// <param name="cancellationToken">Not observed: once the change is made it is saved, whatever the token says.</param>
    /// <returns>The entry, once it is stored.</returns>
    ValueTask<PresenceListEntry> AddToPresenceListAsync(UserId owner, UserId target, CancellationToken cancellationToken = default);

    /// <summary>Removes an entry from a presence list and tells the target's server, so the permission ends on both sides.</summary>
    /// <param name="owner">The local user whose list it is.</param>
    /// <param name="target">The user to stop watching.</param>
    /// <param name="cancellationToken">Not observed: once the change is made it is saved, whatever the token says.</param>
    /// <returns>A task that completes when the removal is stored.</returns>
    ValueTask RemoveFromPresenceListAsync(UserId owner, UserId target, CancellationToken cancellationToken = default);

    /// <summary>Answers a request to add <paramref name="target"/> to <paramref name="observer"/>'s presence list.</summary>
    /// <param name="target">The local user who was asked.</param>
    /// <param name="observer">The user who asked.</param>
    /// <param name="allow">Whether to allow it.</param>
    /// <param name="cancellationToken">Not observed: once the change is made it is saved, whatever the token says.</param>
    /// <returns>A task that completes when the answer is stored.</returns>
    /// <exception cref="InvalidOperationException">There is no request from <paramref name="observer"/>.</exception>
    ValueTask AnswerPresenceRequestAsync(UserId target, UserId observer, bool allow, CancellationToken cancellationToken = default);

    /// <summary>Gets a local user's presence list: each entry with its state and the presence it may show.</summary>
    /// <param name="owner">The local user.</param>
    /// <returns>The entries, ordered by target.</returns>
    IReadOnlyList<PresenceListItem> GetPresenceList(UserId owner);

    /// <summary>Gets the requests waiting for a local user's answer.</summary>
    /// <param name="target">The local user who was asked.</param>
    /// <returns>The pending entries, ordered by observer.</returns>
    IReadOnlyList<PresenceListEntry> GetPendingRequests(UserId target);

    /// <summary>
    /// Starts polling a local user's presence list: the engine subscribes to the allowed remote users on it (one
    /// combined message per server) and keeps their presence current. Counted: each call needs a
    /// <see cref="StopPolling"/>. Opening a subscription does the same for its viewer.
    /// </summary>
    /// <param name="owner">The local user.</param>
    void StartPolling(UserId owner);

    /// <summary>Stops one <see cref="StartPolling"/>; when nobody who may see a remote user cares any more, the engine unsubscribes.</summary>
    /// <param name="owner">The local user.</param>
    void StopPolling(UserId owner);

    /// <summary>
    /// Takes a presence message from another server (the host's federation endpoint calls it). Entries for users
    /// not on <paramref name="origin"/>, unknown states, over-long status messages and anything beyond the
    /// per-message cap are dropped and counted; the rest is applied. A <see cref="PresenceMessage.Poll"/> is
    /// answered at once with the current presence of those users; a reminder restarts both watchdogs.
    /// </summary>
    /// <param name="origin">The authenticated sending server.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the message is applied.</returns>
    ValueTask ReceiveAsync(ServerName origin, PresenceMessage message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gets what presence this server owes others, for a host whose federation sender builds its own transactions:
    /// presence rides them (see <see cref="IPresenceOutbox"/>). Usable whether or not the engine has a transport; without
    /// one nothing is ever owed.
    /// </summary>
    IPresenceOutbox Outbox { get; }

    /// <summary>
    /// Notes any other traffic from a server (a federation transaction with room events, for example): it proves
    /// the server is up, so its short watchdog restarts. Cheap; call it for every inbound transaction.
    /// </summary>
    /// <param name="origin">The authenticated sending server.</param>
    void NoteTraffic(ServerName origin);
}
