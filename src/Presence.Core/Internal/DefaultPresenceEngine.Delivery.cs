using System.Diagnostics;

namespace Presence.Internal;

/// <summary>Who sees whom: the membership cache, reads, local subscriptions and their fan-out.</summary>
internal sealed partial class DefaultPresenceEngine
{
    private readonly Dictionary<UserId, IReadOnlySet<UserId>> _coMembers;
    private readonly Dictionary<UserId, List<Subscription>> _subscribers = [];
    private readonly HashSet<UserId> _lookupsInFlight = [];
    private List<UserId>? _membershipMisses;
    private int _subscriptionCount;

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
            if (!await SharesRoomAsync(viewer, target, cancellationToken).ConfigureAwait(false))
            {
                return PresenceReadResult.NotAllowed;
            }
        }

        PresenceSnapshot snapshot;
        List<UserId>? misses;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            snapshot = _table.TryFind(target, out int index) ? _table.Read(index, now) : PresenceSnapshot.Unknown(target);
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
        List<UserId>? misses;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            var initial = new List<PresenceSnapshot>();
            if (_table.TryFind(viewer, out int own))
            {
                initial.Add(_table.Read(own, now));
            }

            foreach (var user in visible)
            {
                if (user != viewer && _table.TryFind(user, out int index))
                {
                    var snapshot = _table.Read(index, now);
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
            subscription.DeliverInitial(initial);
            misses = AfterChangeLocked(now);
        }

        ResolveMembershipMisses(misses);
        return subscription;
    }

    public async ValueTask MembershipChangedAsync(UserId user, CancellationToken cancellationToken = default)
    {
        RequireUser(user, nameof(user));
        IReadOnlySet<UserId>? previous;
        lock (_lock)
        {
            ThrowIfNotRunning();
            _coMembers.Remove(user, out previous);
            if (previous is not null)
            {
                foreach (var other in previous)
                {
                    _coMembers.Remove(other);
                }
            }
        }

        var current = await _membership.GetUsersSharingRoomAsync(user, cancellationToken).ConfigureAwait(false);
        List<UserId>? misses;
        lock (_lock)
        {
            ThrowIfNotRunning();
            CacheCoMembersLocked(user, current);
            long now = Now();
            _subscribers.TryGetValue(user, out var mine);
            foreach (var other in current)
            {
                if (other == user)
                {
                    continue;
                }

                _coMembers.Remove(other);
                if (_subscriptionCount == 0 || (previous is not null && previous.Contains(other)))
                {
                    continue;
                }

                // A newly visible pair: each side receives the other's current presence.
                if (mine is not null && _table.TryFind(other, out int otherIndex))
                {
                    EnqueueAll(mine, _table.Read(otherIndex, now));
                }

                if (_subscribers.TryGetValue(other, out var theirs) && _table.TryFind(user, out int userIndex))
                {
                    EnqueueAll(theirs, _table.Read(userIndex, now));
                }
            }

            misses = AfterChangeLocked(now);
        }

        ResolveMembershipMisses(misses);
    }

    internal void Unsubscribe(Subscription subscription)
    {
        lock (_lock)
        {
            if (_subscribers.TryGetValue(subscription.Viewer, out var list) && list.Remove(subscription))
            {
                _subscriptionCount--;
                if (list.Count == 0)
                {
                    _subscribers.Remove(subscription.Viewer);
                }
            }
        }
    }

    /// <summary>Queues a published change for every subscription that may see it. Lock held.</summary>
    private void DeliverLocked(PresenceSnapshot snapshot)
    {
        if (_subscriptionCount == 0)
        {
            return;
        }

        var user = snapshot.User;
        if (_subscribers.TryGetValue(user, out var own))
        {
            EnqueueAll(own, snapshot);
        }

        if (!_coMembers.TryGetValue(user, out var coMembers))
        {
            (_membershipMisses ??= []).Add(user);
            return;
        }

        FanOutLocked(coMembers, snapshot);
    }

    private void FanOutLocked(IReadOnlySet<UserId> coMembers, PresenceSnapshot snapshot)
    {
        var user = snapshot.User;
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
    private void ResolveMembershipMisses(List<UserId>? users)
    {
        if (users is null)
        {
            return;
        }

        foreach (var user in users)
        {
            ValueTask<IReadOnlySet<UserId>> lookup;
            try
            {
                lookup = _membership.GetUsersSharingRoomAsync(user, CancellationToken.None);
            }
            catch (Exception ex)
            {
                LookupFailed(user, ex);
                continue;
            }

            if (lookup.IsCompletedSuccessfully)
            {
                DeliverAfterLookup(user, lookup.Result);
            }
            else
            {
                _ = DeliverAfterLookupAsync(user, lookup);
            }
        }
    }

    private async Task DeliverAfterLookupAsync(UserId user, ValueTask<IReadOnlySet<UserId>> lookup)
    {
        try
        {
            DeliverAfterLookup(user, await lookup.ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            LookupFailed(user, ex);
        }
    }

    private void DeliverAfterLookup(UserId user, IReadOnlySet<UserId> coMembers)
    {
        lock (_lock)
        {
            _lookupsInFlight.Remove(user);
            if (_state != Running)
            {
                return;
            }

            CacheCoMembersLocked(user, coMembers);
            if (_subscriptionCount > 0 && _table.TryFind(user, out int index))
            {
                FanOutLocked(coMembers, _table.Published(index));
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
    private async ValueTask<IReadOnlySet<UserId>> GetCoMembersAsync(UserId user, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_coMembers.TryGetValue(user, out var cached))
            {
                return cached;
            }
        }

        var fresh = await _membership.GetUsersSharingRoomAsync(user, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            CacheCoMembersLocked(user, fresh);
        }

        return fresh;
    }

    private void CacheCoMembersLocked(UserId user, IReadOnlySet<UserId> coMembers)
    {
        if (_coMembers.Count >= _options.MembershipCacheCapacity && !_coMembers.ContainsKey(user))
        {
            foreach (var victim in _coMembers.Keys)
            {
                _coMembers.Remove(victim);
                break;
            }
        }

        _coMembers[user] = coMembers;
        Debug.Assert(_coMembers.Count <= _options.MembershipCacheCapacity, "The membership cache stays within its capacity.");
    }

    private void RequireUser(UserId user, string parameterName)
    {
        if (user.IsEmpty)
        {
            Reject("empty_user", "an empty user ID");
            throw new ArgumentException("A user ID is required.", parameterName);
        }
    }
}
