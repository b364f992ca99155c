namespace Presence.Internal;

/// <summary>Who sees whom: the room cache, reads, local subscriptions and their fan-out.</summary>
internal sealed partial class DefaultPresenceEngine
{
    /// <summary>How many times a lookup is retried when a membership change raced it.</summary>
    private const int MaxLookupPasses = 3;

    private readonly RoomCache _rooms;
    private readonly Dictionary<UserId, List<Subscription>> _subscribers = [];
    private readonly HashSet<UserId> _lookupsInFlight = [];
    private readonly HashSet<UserId> _viewerScratch = [];

    /// <summary>Offline for longer than this without a status message: not worth telling a server that newly shares a room.</summary>
    private static readonly TimeSpan LongOfflineThreshold = TimeSpan.FromDays(1);
    private List<UserId>? _membershipMisses;
    private int _subscriptionCount;
    private int _backgroundLookups;

    public async ValueTask<PresenceReadResult> GetPresenceAsync(UserId viewer, UserId target, CancellationToken cancellationToken = default)
    {
        RequireUser(viewer, nameof(viewer));
        RequireUser(target, nameof(target));
        lock (_lock)
        {
            ThrowIfNotRunning(); // before any store read
        }

        await EnsureLoadedAsync([target], cancellationToken).ConfigureAwait(false); // its record says who may see it
        if (viewer != target)
        {
            bool decided;
            lock (_lock)
            {
                ThrowIfNotRunning();

                // Decided without the membership view when visibility or an accepted list entry settles it, or the cache knows.
                decided = !VisibilityRule.NeedsRooms(VisibilityOfLocked(target)) || IsAllowedLocked(viewer, target) || _rooms.SharesRoom(viewer, target) is not null;
            }

            if (!decided)
            {
                await EnsureRoomsAsync([target], cancellationToken).ConfigureAwait(false);
            }

            bool allowed;
            lock (_lock)
            {
                ThrowIfNotRunning();
                allowed = MaySeeLocked(viewer, target);
            }

            if (!allowed)
            {
                return PresenceReadResult.NotAllowed;
            }
        }

        PresenceSnapshot snapshot;
        Followups followups;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            snapshot = ReadLocked(target);
            followups = AfterChangeLocked(now);
        }

        RunFollowups(followups);
        return PresenceReadResult.Allowed(snapshot);
    }

    public async ValueTask<IPresenceSubscription> SubscribeAsync(UserId viewer, CancellationToken cancellationToken = default)
    {
        RequireUser(viewer, nameof(viewer));
        if (!viewer.IsOn(_server))
        {
            Reject("foreign_user", "a subscription for a user of another server");
            throw new ArgumentException($"Only local users can subscribe; {viewer} is not a user of {_server}.", nameof(viewer));
        }

        lock (_lock)
        {
            ThrowIfNotRunning();
        }

        await EnsureRoomsAsync([viewer], cancellationToken).ConfigureAwait(false);
        List<UserId> visibleLocal = [viewer];
        lock (_lock)
        {
            var around = new HashSet<UserId>();
            _rooms.TryCollectCoMembers(viewer, around);
            if (_listOf.TryGetValue(viewer, out var onList))
            {
                around.UnionWith(onList);
            }

            visibleLocal.AddRange(around.Where(user => user.IsOn(_server)));
        }

        await EnsureLoadedAsync(visibleLocal, cancellationToken).ConfigureAwait(false); // users not in memory still have a status to show
        var subscription = new Subscription(this, viewer, _options.ClientBatchWindow, _time, _metrics.ClientBatches);
        Followups followups;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            var initial = new List<PresenceSnapshot>();
            if (TryReadLocked(viewer, out var own))
            {
                initial.Add(own);
            }

            // Sharing a room is symmetric: who the viewer may see is among who shares a room with the viewer.
            var coMembers = new HashSet<UserId>();
            _rooms.TryCollectCoMembers(viewer, coMembers);
            var candidates = new HashSet<UserId>(coMembers);
            if (_listOf.TryGetValue(viewer, out var listed))
            {
                candidates.UnionWith(listed);
            }

            foreach (var user in candidates)
            {
                if (user != viewer && MaySeeLocked(viewer, user, coMembers.Contains(user)) && TryReadLocked(user, out var snapshot) && !snapshot.IsUnknown)
                {
                    initial.Add(snapshot);
                }
            }

            // Registered after the initial reads, so changes those reads published are not queued twice.
            if (!_subscribers.TryGetValue(viewer, out var list))
            {
                list = [];
                _subscribers.Add(viewer, list);
            }

            list.Add(subscription);
            _subscriptionCount++;
            StartPollingLocked(viewer, now); // a connected client that cares: its allowed remote list entries are watched
            subscription.DeliverInitial(initial);
            followups = AfterChangeLocked(now);
        }

        RunFollowups(followups);
        return subscription;
    }

    public async ValueTask UserJoinedRoomAsync(UserId user, string roomId, CancellationToken cancellationToken = default)
    {
        RequireUser(user, nameof(user));
        RequireRoom(roomId);
        lock (_lock)
        {
            ThrowIfNotRunning();
            if (!_rooms.Joined(user, roomId))
            {
                return; // an excluded room shares nothing
            }
        }

        // What the user shared before: the members of their other rooms. The view already counts the new room (the host
        // joined it before telling us), so both are asked for what the cache lacks and the new room is left out. A remote
        // joiner's rooms are not fetched just for this: without them every member counts as newly sharing, which costs at
        // most a repeated entry in a batch, not memory for every remote user who ever joined.
        if (user.IsOn(_server))
        {
            await EnsureRoomsAsync([user], cancellationToken).ConfigureAwait(false);
        }

        await EnsureMembersAsync([roomId], cancellationToken).ConfigureAwait(false);
        if (_outbound is not null || _subscriptionCount > 0)
        {
            List<UserId> local = [];
            lock (_lock)
            {
                if (_rooms.TryGetMembers(roomId, out var joined))
                {
                    local.AddRange(joined.Where(member => member.IsOn(_server)));
                }
            }

            await EnsureLoadedAsync(local, cancellationToken).ConfigureAwait(false); // what newly sharing servers and feeds are sent
        }

        Followups followups;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            _rooms.Joined(user, roomId); // idempotent: keeps a cache filled just now in step with the change
            if (_rooms.TryGetMembers(roomId, out var members))
            {
                var before = new HashSet<UserId>();
                if (_rooms.TryGetRooms(user, out var rooms))
                {
                    foreach (var other in rooms)
                    {
                        if (!string.Equals(other, roomId, StringComparison.Ordinal) && _rooms.TryGetMembers(other, out var otherMembers))
                        {
                            before.UnionWith(otherMembers);
                        }
                    }
                }

                _subscribers.TryGetValue(user, out var mine);
                foreach (var other in members)
                {
                    if (other != user && !before.Contains(other))
                    {
                        NewlySharingLocked(user, other, mine, now);
                    }
                }
            }

            followups = AfterChangeLocked(now);
        }

        RunFollowups(followups);
    }

    public ValueTask UserLeftRoomAsync(UserId user, string roomId, CancellationToken cancellationToken = default)
    {
        RequireUser(user, nameof(user));
        RequireRoom(roomId);
        Followups followups;
        lock (_lock)
        {
            ThrowIfNotRunning();
            if (!_rooms.Left(user, roomId))
            {
                return ValueTask.CompletedTask;
            }

            if (user.IsOn(_server))
            {
                PrunePeerSubscribersLocked(user); // a server that no longer shares a room (or list) stops receiving
            }
            else if (_rooms.TryGetMembers(roomId, out var members))
            {
                foreach (var member in members)
                {
                    if (member.IsOn(_server))
                    {
                        PrunePeerSubscribersLocked(member); // the leaver's server may have lost its last reason to receive
                    }
                }
            }

            followups = AfterChangeLocked(Now());
        }

        RunFollowups(followups);
        return ValueTask.CompletedTask;
    }

    /// <summary>Two users newly share a room: each side's feeds and each local user's presence to the other's server. Lock held.</summary>
    private void NewlySharingLocked(UserId user, UserId other, List<Subscription>? userFeeds, long now)
    {
        // A server newly sharing a room with a local user receives that user's current presence.
        SendToNewlySharingServerLocked(user, other, now);
        SendToNewlySharingServerLocked(other, user, now);
        if (_subscriptionCount == 0)
        {
            return;
        }

        // A newly visible pair: each side receives the other's current presence, if that user shows it.
        if (userFeeds is not null && MaySeeLocked(user, other, sharesRoom: true) && TryReadLocked(other, out var ofOther))
        {
            EnqueueAll(userFeeds, ofOther);
        }

        if (_subscribers.TryGetValue(other, out var theirs) && MaySeeLocked(other, user, sharesRoom: true) && TryReadLocked(user, out var ofUser))
        {
            EnqueueAll(theirs, ofUser);
        }
    }

    /// <summary>
    /// Queues the local <paramref name="local"/>'s current presence for <paramref name="remote"/>'s server, unless the
    /// user hides from room members or has long been offline with nothing to say. Lock held.
    /// </summary>
    private void SendToNewlySharingServerLocked(UserId local, UserId remote, long now)
    {
        if (_outbound is null || !local.IsOn(_server) || remote.IsOn(_server) || VisibilityOfLocked(local) != PresenceVisibility.RoomMembers
            || !TryReadLocked(local, out var snapshot))
        {
            return;
        }

        bool longOffline = snapshot.State == PresenceState.Offline && snapshot.StatusMessage is null
            && (snapshot.GetLastActiveAgo(_timeBase.ToWall(now)) is not { } ago || ago > LongOfflineThreshold);
        if (!snapshot.IsUnknown && !longOffline)
        {
            OweLocked(remote.Server, snapshot);
        }
    }

    internal void Unsubscribe(Subscription subscription)
    {
        Followups followups = default;
        lock (_lock)
        {
            if (_subscribers.TryGetValue(subscription.Viewer, out var list) && list.Remove(subscription))
            {
                _subscriptionCount--;
                if (list.Count == 0)
                {
                    _subscribers.Remove(subscription.Viewer);
                }

                if (_state == Running)
                {
                    StopPollingLocked(subscription.Viewer);
                    followups = AfterChangeLocked(Now());
                }
            }
        }

        RunFollowups(followups);
    }

    /// <summary>Queues a published change for every subscription and server that may see it. Lock held.</summary>
    private void DeliverLocked(PresenceSnapshot snapshot)
    {
        var user = snapshot.User;
        bool outbound = _outbound is not null && user.IsOn(_server);
        if (_subscriptionCount == 0 && !outbound)
        {
            return;
        }

        if (_subscribers.TryGetValue(user, out var own))
        {
            EnqueueAll(own, snapshot);
        }

        bool complete = _rooms.IsComplete(user, null) || TryFillInstantlyLocked(user);
        if (outbound)
        {
            RouteOutboundLocked(snapshot, complete); // subscribers now; room servers once the rooms are known
        }

        if (!complete && VisibilityRule.NeedsRooms(VisibilityOfLocked(user)))
        {
            (_membershipMisses ??= []).Add(user);
        }

        if (_subscriptionCount > 0)
        {
            FanOutLocked(snapshot, complete);
        }
    }

    /// <summary>Queues a change for the local feeds that may see it: accepted observers, and room co-members when the rooms are cached. Lock held.</summary>
    private void FanOutLocked(PresenceSnapshot snapshot, bool roomsKnown)
    {
        var user = snapshot.User;
        var seen = _viewerScratch;
        seen.Clear();
        seen.Add(user);
        if (_observersOf.TryGetValue(user, out var observers))
        {
            foreach (var observer in observers)
            {
                if (_subscribers.TryGetValue(observer, out var feeds) && seen.Add(observer) && MaySeeLocked(observer, user, sharesRoom: null))
                {
                    EnqueueAll(feeds, snapshot);
                }
            }
        }

        if (!roomsKnown || !VisibilityRule.NeedsRooms(VisibilityOfLocked(user)) || !_rooms.TryGetRooms(user, out var rooms))
        {
            return;
        }

        foreach (var room in rooms)
        {
            if (!_rooms.TryGetMembers(room, out var members))
            {
                continue;
            }

            if (members.Count <= _subscribers.Count)
            {
                foreach (var viewer in members)
                {
                    if (_subscribers.TryGetValue(viewer, out var feeds) && seen.Add(viewer) && MaySeeLocked(viewer, user, sharesRoom: true))
                    {
                        EnqueueAll(feeds, snapshot);
                    }
                }
            }
            else
            {
                foreach (var (viewer, feeds) in _subscribers)
                {
                    if (members.Contains(viewer) && seen.Add(viewer) && MaySeeLocked(viewer, user, sharesRoom: true))
                    {
                        EnqueueAll(feeds, snapshot);
                    }
                }
            }
        }
    }

    private static void EnqueueAll(List<Subscription> subscriptions, PresenceSnapshot snapshot)
    {
        foreach (var subscription in subscriptions)
        {
            subscription.Enqueue(snapshot);
        }
    }

    private List<UserId>? TakeMembershipMissesLocked()
    {
        var misses = _membershipMisses;
        if (misses is null)
        {
            return null;
        }

        _membershipMisses = null;
        misses.RemoveAll(user => !_lookupsInFlight.Add(user));
        return misses.Count == 0 ? null : misses;
    }

    /// <summary>
    /// Runs what was decided under the lock and calls out: sends, and membership lookups for changes published while a
    /// user's rooms were not cached — those run in the background, never on the caller's thread, and then deliver the
    /// user's latest published presence. Called without the lock.
    /// </summary>
    private void RunFollowups(Followups followups)
    {
        if (followups.Sends is { } sends && _outbound is not null)
        {
            // One message per server for everything one call decided: three list entries on one server are one poll.
            foreach (var group in sends.GroupBy(static send => send.To))
            {
                _outbound.SendNow(
                    group.Key,
                    [.. group.SelectMany(static send => send.Push)],
                    [.. group.SelectMany(static send => send.Poll)],
                    [.. group.SelectMany(static send => send.Unpoll)],
                    reminder: false,
                    [.. group.SelectMany(static send => send.Lists ?? [])]);
            }
        }

        if (followups.Misses is { } users)
        {
            Interlocked.Increment(ref _backgroundLookups);
            ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Engine.DeliverAfterLookupAsync(state.Users), (Engine: this, Users: users), preferLocal: false);
        }

        _outbound?.Pump();
    }

    private async Task DeliverAfterLookupAsync(List<UserId> users)
    {
        try
        {
            await EnsureRoomsAsync(users, _stopping.Token).ConfigureAwait(false);
            Followups followups = default;
            lock (_lock)
            {
                foreach (var user in users)
                {
                    _lookupsInFlight.Remove(user);
                }

                if (_state != Running)
                {
                    return;
                }

                foreach (var user in users)
                {
                    if (_rooms.IsComplete(user, null) && TryPublishedLocked(user, out var latest) && !latest.IsUnknown)
                    {
                        if (_subscriptionCount > 0)
                        {
                            FanOutLocked(latest, roomsKnown: true);
                        }

                        RouteOutboundLocked(latest, roomsKnown: true);
                    }
                }

                followups = AfterChangeLocked(Now());
            }

            RunFollowups(followups);
        }
        catch (Exception ex)
        {
            lock (_lock)
            {
                foreach (var user in users)
                {
                    _lookupsInFlight.Remove(user);
                }
            }

            if (ex is not OperationCanceledException)
            {
                Log.MembershipLookupFailed(_logger, ex);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _backgroundLookups);
        }
    }

    /// <summary>
    /// Fills the cache for <paramref name="user"/> at once when the view answers without I/O (the in-memory view, which never
    /// calls back into the engine); host views are asked in the background instead. Lock held.
    /// </summary>
    private bool TryFillInstantlyLocked(UserId user)
    {
        if (_membership is not IInstantMembershipView instant)
        {
            return false;
        }

        if (!_rooms.TryGetRooms(user, out _))
        {
            _rooms.CacheRooms(user, instant.RoomsOf(user)); // an answer as of now: nothing can race it under the lock
        }

        var missing = new List<string>();
        _rooms.IsComplete(user, missing);
        foreach (var room in missing)
        {
            _rooms.CacheMembers(room, instant.MembersOf(room));
        }

        return _rooms.IsComplete(user, null);
    }

    /// <summary>Gets whether background membership lookups are still running (tests wait for them).</summary>
    internal bool HasBackgroundWork => Volatile.Read(ref _backgroundLookups) > 0;

    /// <summary>
    /// Asks the membership view for what the cache lacks about <paramref name="users"/>: their rooms, then those rooms'
    /// members. Called without the lock; a change that races a lookup makes it ask again (a few times at most).
    /// </summary>
    private async ValueTask EnsureRoomsAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
    {
        for (int pass = 0; pass < MaxLookupPasses; pass++)
        {
            List<(UserId User, long Token)>? needRooms = null;
            List<string>? needMembers = null;
            lock (_lock)
            {
                foreach (var user in users)
                {
                    if (!_rooms.TryGetRooms(user, out _))
                    {
                        (needRooms ??= []).Add((user, _rooms.FetchingRooms(user)));
                    }
                    else
                    {
                        _rooms.IsComplete(user, needMembers ??= []);
                    }
                }
            }

            if (needRooms is null && (needMembers is null || needMembers.Count == 0))
            {
                return;
            }

            if (needRooms is not null)
            {
                await AskViewAsync(
                    needRooms,
                    _membership.GetRoomsOfUserAsync,
                    (user, rooms, token) =>
                    {
                        _rooms.CacheRooms(user, rooms, token);
                        _rooms.IsComplete(user, needMembers ??= []);
                    },
                    _rooms.AbandonRooms,
                    cancellationToken).ConfigureAwait(false);
            }

            if (needMembers is { Count: > 0 })
            {
                await EnsureMembersAsync(needMembers, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Asks the membership view for the members of rooms the cache lacks. Called without the lock.</summary>
    private async ValueTask EnsureMembersAsync(IEnumerable<string> rooms, CancellationToken cancellationToken)
    {
        var missing = new List<(string Room, long Token)>();
        lock (_lock)
        {
            foreach (var room in rooms.Distinct(StringComparer.Ordinal))
            {
                if (!_rooms.IsExcluded(room) && !_rooms.TryGetMembers(room, out _))
                {
                    missing.Add((room, _rooms.FetchingMembers(room)));
                }
            }
        }

        await AskViewAsync(missing, _membership.GetMembersOfRoomAsync, _rooms.CacheMembers, _rooms.AbandonMembers, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks the membership view for each key in turn and gives each answer to the cache under the lock. When a lookup
    /// fails, those not yet answered are abandoned (nothing cached) before the failure goes up. Called without the lock.
    /// </summary>
    private async ValueTask AskViewAsync<TKey, TAnswer>(
        List<(TKey Key, long Token)> lookups,
        Func<TKey, CancellationToken, ValueTask<IReadOnlyCollection<TAnswer>>> ask,
        Action<TKey, IReadOnlyCollection<TAnswer>, long?> cache,
        Action<TKey> abandon,
        CancellationToken cancellationToken)
    {
        for (int i = 0; i < lookups.Count; i++)
        {
            var (key, token) = lookups[i];
            IReadOnlyCollection<TAnswer> answer;
            try
            {
                answer = await ask(key, cancellationToken).ConfigureAwait(false);
                ArgumentNullException.ThrowIfNull(answer);
            }
            catch
            {
                lock (_lock)
                {
                    for (int j = i; j < lookups.Count; j++)
                    {
                        abandon(lookups[j].Key);
                    }
                }

                throw;
            }

            lock (_lock)
            {
                cache(key, answer, token);
            }
        }
    }

    internal void OnSubscriptionFailure(Exception exception) => Log.DeliveryFailed(_logger, exception);

    private void RequireUser(UserId user, string parameterName)
    {
        if (user.IsEmpty)
        {
            Reject("empty_user", "an empty user ID");
            throw new ArgumentException("A user ID is required.", parameterName);
        }
    }

    private void RequireRoom(string roomId)
    {
        if (string.IsNullOrEmpty(roomId) || roomId.Length > MaxRoomIdLength)
        {
            Reject("bad_room_id", "a missing or over-long room ID");
            ArgumentNullException.ThrowIfNull(roomId);
            throw new ArgumentException($"A room ID must be 1 to {MaxRoomIdLength} characters long.", nameof(roomId));
        }
    }

    /// <summary>The specification's limit for any identifier.</summary>
    private const int MaxRoomIdLength = 255;
}
