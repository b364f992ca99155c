using System.Diagnostics;

namespace Presence.Internal;

/// <summary>Who sees whom: the membership cache, reads, local subscriptions and their fan-out.</summary>
internal sealed partial class DefaultPresenceEngine
{
    private readonly Dictionary<UserId, HashSet<UserId>> _coMembers;
    private readonly Queue<UserId> _coMembersOrder = new();
    private readonly Dictionary<UserId, List<Subscription>> _subscribers = [];
    private readonly HashSet<UserId> _lookupsInFlight = [];

    /// <summary>Offline for longer than this without a status message: not worth telling a server that newly shares a room.</summary>
    private static readonly TimeSpan LongOfflineThreshold = TimeSpan.FromDays(1);
    private List<UserId>? _membershipMisses;
    private int _subscriptionCount;

    /// <summary>Bumped by every membership change, so a lookup that raced one is not cached.</summary>
    private long _membershipGeneration;

    public async ValueTask<PresenceReadResult> GetPresenceAsync(UserId viewer, UserId target, CancellationToken cancellationToken = default)
    {
        RequireUser(viewer, nameof(viewer));
        RequireUser(target, nameof(target));
        lock (_lock)
        {
            ThrowIfNotRunning();
        }

        if (viewer != target)
        {
            bool decided, allowed;
            lock (_lock)
            {
                // Decided without the membership view when visibility or an accepted list entry settles it.
                var visibility = VisibilityOfLocked(target);
                decided = visibility != PresenceVisibility.RoomMembers || IsAllowedLocked(viewer, target);
                allowed = decided && MaySeeLocked(viewer, target, sharesRoom: false);
            }

            if (!decided)
            {
                allowed = await SharesRoomAsync(viewer, target, cancellationToken).ConfigureAwait(false);
            }

            if (!allowed)
            {
                return PresenceReadResult.NotAllowed;
            }
        }

        PresenceSnapshot snapshot;
        Followups misses;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            snapshot = ReadLocked(target);
            misses = AfterChangeLocked(now);
        }

        ResolveMembershipMisses(misses);
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

        // The set answers both directions: who the viewer sees is who shares a room with the viewer.
        var visible = await GetCoMembersAsync(viewer, cancellationToken).ConfigureAwait(false);
        var subscription = new Subscription(this, viewer, _options.ClientBatchWindow, _time, _metrics.ClientBatches);
        Followups misses;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            var initial = new List<PresenceSnapshot>();
            if (TryReadLocked(viewer, out var own))
            {
                initial.Add(own);
            }

            var candidates = new HashSet<UserId>(visible);
            if (_listOf.TryGetValue(viewer, out var listed))
            {
                candidates.UnionWith(listed);
            }

            foreach (var user in candidates)
            {
                if (user != viewer && MaySeeLocked(viewer, user, visible.Contains(user)) && TryReadLocked(user, out var snapshot))
                {
                    if (!snapshot.IsUnknown)
                    {
                        initial.Add(snapshot);
                    }
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
            misses = AfterChangeLocked(now);
        }

        ResolveMembershipMisses(misses);
        return subscription;
    }

    public async ValueTask MembershipChangedAsync(UserId user, CancellationToken cancellationToken = default)
    {
        RequireUser(user, nameof(user));
        HashSet<UserId>? previous;
        lock (_lock)
        {
            ThrowIfNotRunning();
            _membershipGeneration++;
            _coMembers.Remove(user, out previous);
            InvalidateCoMembersOfLocked(user, previous);
        }

        var current = Copy(await _membership.GetUsersSharingRoomAsync(user, cancellationToken).ConfigureAwait(false));
        Followups misses;
        lock (_lock)
        {
            ThrowIfNotRunning();
            _membershipGeneration++;
            InvalidateCoMembersOfLocked(user, previous);
            CacheCoMembersLocked(user, current);
            long now = Now();
            if (user.IsOn(_server))
            {
                PrunePeerSubscribersLocked(user); // a server that no longer shares a room (or list) stops receiving
            }

            _subscribers.TryGetValue(user, out var mine);
            foreach (var other in current)
            {
                if (other == user)
                {
                    continue;
                }

                _coMembers.Remove(other); // their sets now include the user
                if (previous is not null && previous.Contains(other))
                {
                    continue;
                }

                // A server newly sharing a room with a local user receives that user's current presence.
                SendToNewlySharingServerLocked(user, other, now);
                SendToNewlySharingServerLocked(other, user, now);
                if (_subscriptionCount == 0)
                {
                    continue;
                }

                // A newly visible pair: each side receives the other's current presence, if that user shows it.
                if (mine is not null && MaySeeLocked(user, other, sharesRoom: true) && TryReadLocked(other, out var ofOther))
                {
                    EnqueueAll(mine, ofOther);
                }

                if (_subscribers.TryGetValue(other, out var theirs) && MaySeeLocked(other, user, sharesRoom: true) && TryReadLocked(user, out var ofUser))
                {
                    EnqueueAll(theirs, ofUser);
                }
            }

            misses = AfterChangeLocked(now);
        }

        ResolveMembershipMisses(misses);
    }

    /// <summary>
    /// Forgets every cached set that may hold <paramref name="user"/>: those of its previous co-members when known,
    /// otherwise every set that contains it (a scan, only when the user's own set was not cached).
    /// </summary>
    private void InvalidateCoMembersOfLocked(UserId user, HashSet<UserId>? previous)
    {
        if (previous is not null)
        {
            foreach (var other in previous)
            {
                _coMembers.Remove(other);
            }

            return;
        }

        List<UserId>? stale = null;
        foreach (var (owner, set) in _coMembers)
        {
            if (set.Contains(user))
            {
                (stale ??= []).Add(owner);
            }
        }

        if (stale is not null)
        {
            foreach (var owner in stale)
            {
                _coMembers.Remove(owner);
            }
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
            _outbound.Enqueue(remote.Server, snapshot);
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

        ResolveMembershipMisses(followups);
    }

    /// <summary>Queues a published change for every subscription that may see it. Lock held.</summary>
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

        _coMembers.TryGetValue(user, out var coMembers);
        if (outbound)
        {
            RouteOutboundLocked(snapshot, coMembers); // subscribers now; room servers once co-members are known
        }

        if (coMembers is null)
        {
            (_membershipMisses ??= []).Add(user);
            return;
        }

        if (_subscriptionCount > 0)
        {
            FanOutLocked(coMembers, snapshot);
        }
    }

    private void FanOutLocked(HashSet<UserId> coMembers, PresenceSnapshot snapshot)
    {
        var user = snapshot.User;
        var visibility = VisibilityOfLocked(user);
        if (visibility == PresenceVisibility.Nobody)
        {
            return;
        }

        // Accepted presence-list observers, whatever the rooms.
        if (_observersOf.TryGetValue(user, out var observers))
        {
            foreach (var observer in observers)
            {
                if (_subscribers.TryGetValue(observer, out var feeds) && IsAllowedLocked(observer, user) && !coMembers.Contains(observer))
                {
                    EnqueueAll(feeds, snapshot);
                }
            }
        }

        if (visibility == PresenceVisibility.PresenceListOnly)
        {
            foreach (var viewer in coMembers)
            {
                if (viewer != user && IsAllowedLocked(viewer, user) && _subscribers.TryGetValue(viewer, out var list))
                {
                    EnqueueAll(list, snapshot);
                }
            }

            return;
        }

        if (coMembers.Count <= _subscribers.Count)
        {
            foreach (var viewer in coMembers)
            {
                if (viewer != user && _subscribers.TryGetValue(viewer, out var list))
                {
                    EnqueueAll(list, snapshot);
                }
            }
        }
        else
        {
            foreach (var (viewer, list) in _subscribers)
            {
                if (viewer != user && coMembers.Contains(viewer))
                {
                    EnqueueAll(list, snapshot);
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
    /// Looks up co-members that were not cached when a change was published, then delivers the user's latest
    /// published presence. Completes inline when the view answers synchronously. Called without the lock.
    /// </summary>
    private void ResolveMembershipMisses(Followups followups)
    {
        if (followups.Sends is { } sends && _outbound is not null)
        {
            foreach (var send in sends)
            {
                _outbound.SendNow(send.To, send.Push, send.Poll, send.Unpoll, reminder: false, send.Lists);
            }
        }

        var users = followups.Misses;
        if (users is null)
        {
            _outbound?.Pump();
            return;
        }

        long generation;
        lock (_lock)
        {
            generation = _membershipGeneration;
        }

        foreach (var user in users)
        {
            try
            {
                var lookup = _membership.GetUsersSharingRoomAsync(user, CancellationToken.None);
                if (lookup.IsCompletedSuccessfully)
                {
                    DeliverAfterLookup(user, Copy(lookup.Result), generation);
                }
                else
                {
                    _ = DeliverAfterLookupAsync(user, lookup, generation);
                }
            }
            catch (Exception ex)
            {
                LookupFailed(user, ex);
            }
        }

        _outbound?.Pump();
    }

    private async Task DeliverAfterLookupAsync(UserId user, ValueTask<IReadOnlySet<UserId>> lookup, long generation)
    {
        try
        {
            DeliverAfterLookup(user, Copy(await lookup.ConfigureAwait(false)), generation);
            _outbound?.Pump();
        }
        catch (Exception ex)
        {
            LookupFailed(user, ex);
        }
    }

    private void DeliverAfterLookup(UserId user, HashSet<UserId> coMembers, long generation)
    {
        lock (_lock)
        {
            _lookupsInFlight.Remove(user);
            if (_state != Running)
            {
                return;
            }

            if (generation == _membershipGeneration)
            {
                CacheCoMembersLocked(user, coMembers);
            }

            if (TryPublishedLocked(user, out var latest))
            {
                if (_subscriptionCount > 0)
                {
                    FanOutLocked(coMembers, latest);
                }

                RouteOutboundLocked(latest, coMembers);
            }
        }
    }

    private void LookupFailed(UserId user, Exception exception)
    {
        lock (_lock)
        {
            _lookupsInFlight.Remove(user);
        }

        Log.MembershipLookupFailed(_logger, exception);
    }

    private async ValueTask<bool> SharesRoomAsync(UserId viewer, UserId target, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // Sharing a room is symmetric: either user's cached set answers.
            if (_coMembers.TryGetValue(target, out var ofTarget))
            {
                return ofTarget.Contains(viewer);
            }

            if (_coMembers.TryGetValue(viewer, out var ofViewer))
            {
                return ofViewer.Contains(target);
            }
        }

        var fresh = await GetCoMembersAsync(target, cancellationToken).ConfigureAwait(false);
        return fresh.Contains(viewer);
    }

    /// <summary>The users sharing a room with <paramref name="user"/>, from the cache or else the view.</summary>
    private async ValueTask<HashSet<UserId>> GetCoMembersAsync(UserId user, CancellationToken cancellationToken)
    {
        long generation;
        lock (_lock)
        {
            if (_coMembers.TryGetValue(user, out var cached))
            {
                return cached;
            }

            generation = _membershipGeneration;
        }

        var fresh = Copy(await _membership.GetUsersSharingRoomAsync(user, cancellationToken).ConfigureAwait(false));
        lock (_lock)
        {
            if (generation == _membershipGeneration)
            {
                CacheCoMembersLocked(user, fresh);
            }
        }

        return fresh;
    }

    /// <summary>The engine keeps its own copy: a host that later changes the set it returned cannot corrupt the cache.</summary>
    private static HashSet<UserId> Copy(IReadOnlySet<UserId> set)
    {
        ArgumentNullException.ThrowIfNull(set);
        return [.. set];
    }

    /// <summary>Caches a set, evicting the oldest entry (first cached) when full.</summary>
    private void CacheCoMembersLocked(UserId user, HashSet<UserId> coMembers)
    {
        if (!_coMembers.ContainsKey(user))
        {
            while (_coMembers.Count >= _options.MembershipCacheCapacity && _coMembersOrder.TryDequeue(out var oldest))
            {
                _coMembers.Remove(oldest); // a key already invalidated is simply skipped
            }

            _coMembersOrder.Enqueue(user);
            if (_coMembersOrder.Count > 2 * _options.MembershipCacheCapacity)
            {
                // Invalidations leave keys behind in the queue; rebuild it from what is cached.
                _coMembersOrder.Clear();
                foreach (var key in _coMembers.Keys)
                {
                    _coMembersOrder.Enqueue(key);
                }

                _coMembersOrder.Enqueue(user);
            }
        }

        _coMembers[user] = coMembers;
        Debug.Assert(_coMembers.Count <= _options.MembershipCacheCapacity, "The membership cache stays within its capacity.");
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
}
