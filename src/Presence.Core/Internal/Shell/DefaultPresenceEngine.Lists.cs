namespace Presence.Internal;

/// <summary>Presence lists with permission (seed 000), each user's visibility, and the interest that drives polling.</summary>
internal sealed partial class DefaultPresenceEngine
{
    private readonly IPresenceListStore _listStore;
    private readonly SemaphoreSlim _listWrites = new(1, 1);

    /// <summary>Every relation this engine takes part in: the observer, the observed user or both are local.</summary>
    private readonly Dictionary<(UserId Observer, UserId Observed), PresenceListState> _relations = [];

    /// <summary>Local observer → the users on their list.</summary>
    private readonly Dictionary<UserId, HashSet<UserId>> _listOf = [];

    /// <summary>Observed user → observers with a relation (any state).</summary>
    private readonly Dictionary<UserId, HashSet<UserId>> _observersOf = [];

    /// <summary>Local owner → how many pollers (subscriptions, explicit calls) care about their list now.</summary>
    private readonly Dictionary<UserId, int> _polling = [];

    /// <summary>Local owner → explicit StartPolling calls not yet stopped.</summary>
    private readonly Dictionary<UserId, int> _explicitPolling = [];

    /// <summary>Remote user → how many polling owners may see them: watched while above zero.</summary>
    private readonly Dictionary<UserId, int> _watchRefs = [];

    /// <summary>Peer → pending invites it has made to our users, capped.</summary>
    private readonly Dictionary<ServerName, int> _pendingInvites = [];

    public void SetVisibility(UserId user, PresenceVisibility visibility)
    {
        RequireLocal(user, nameof(user));
        if (visibility is not (PresenceVisibility.RoomMembers or PresenceVisibility.PresenceListOnly or PresenceVisibility.Nobody))
        {
            Reject("bad_visibility", "a visibility that is not defined");
            throw new ArgumentOutOfRangeException(nameof(visibility), visibility, "Use RoomMembers, PresenceListOnly or Nobody.");
        }

        WithLock(now =>
        {
            var before = SetVisibilityLocked(user, visibility);
            if (visibility > before)
            {
                RetractLocked(user, now); // narrowed: whoever lost sight is told, not left with the last state
            }
            else if (visibility < before)
            {
                RevealLocked(user); // widened: whoever gained sight receives the current presence
            }
        });
    }

    /// <summary>
    /// After a user widened who may see them: local feeds that may now see them receive their current presence, and so do
    /// the servers that may (routed as a change is). Lock held.
    /// </summary>
    private void RevealLocked(UserId user)
    {
        if (!TryReadLocked(user, out var current) || current.IsUnknown)
        {
            return;
        }

        bool roomsKnown = _rooms.IsComplete(user, null) || TryFillInstantlyLocked(user);
        var coMembers = new HashSet<UserId>();
        _rooms.TryCollectCoMembers(user, coMembers);
        var viewers = new HashSet<UserId>(coMembers);
        if (_observersOf.TryGetValue(user, out var observers))
        {
            viewers.UnionWith(observers);
        }

        foreach (var viewer in viewers)
        {
            if (viewer.IsOn(_server) && _subscribers.TryGetValue(viewer, out var feeds) && MaySeeLocked(viewer, user, sharesRoom: coMembers.Contains(viewer)))
            {
                EnqueueAll(feeds, current);
            }
        }

        RouteOutboundLocked(current, roomsKnown);
    }

    /// <summary>
    /// After a user narrowed who may see them: local feeds that lost sight receive "unknown", servers that lost
    /// sight receive a bare offline (the protocol has no "unknown") and their subscriptions end. Lock held.
    /// </summary>
    private void RetractLocked(UserId user, long now)
    {
        var unknown = PresenceSnapshot.Unknown(user);
        var coMembers = new HashSet<UserId>();
        _rooms.TryCollectCoMembers(user, coMembers);
        var viewers = new HashSet<UserId>(coMembers);
        if (_observersOf.TryGetValue(user, out var observers))
        {
            viewers.UnionWith(observers);
        }

        var servers = new HashSet<ServerName>();
        foreach (var viewer in viewers)
        {
            if (viewer.IsOn(_server))
            {
                if (_subscribers.TryGetValue(viewer, out var feeds) && !MaySeeLocked(viewer, user, sharesRoom: coMembers.Contains(viewer)))
                {
                    EnqueueAll(feeds, unknown);
                }
            }
            else
            {
                servers.Add(viewer.Server);
            }
        }

        if (_peerSubscribers.TryGetValue(user, out var peers))
        {
            servers.UnionWith(peers);
        }

        PrunePeerSubscribersLocked(user);
        if (_outbound is null)
        {
            return;
        }

        var hidden = new PresenceSnapshot(user, PresenceState.Offline, null, null, false, DeviceKinds.None) { Sequence = NextSequenceLocked(user) };
        foreach (var server in servers)
        {
            if (!PeerMaySeeLocked(server, user, assumeRoomWhenUnknown: false))
            {
                _outbound.Enqueue(server, hidden);
            }
        }
    }

    public async ValueTask<PresenceListEntry> AddToPresenceListAsync(UserId owner, UserId target, CancellationToken cancellationToken = default)
    {
        RequireLocal(owner, nameof(owner));
        RequireUser(target, nameof(target));
        if (owner == target)
        {
            throw new ArgumentException("A user cannot add themselves to their own presence list.", nameof(target));
        }

        PresenceListState state = PresenceListState.Pending;
        WithLock(_ =>
        {
            if (_relations.TryGetValue((owner, target), out var existing))
            {
                state = existing;
                return;
            }

            if (_listOf.TryGetValue(owner, out var list) && list.Count >= _options.MaxPresenceListSize)
            {
                Reject("list_full", "a presence list at its size limit");
                throw new InvalidOperationException($"{owner}'s presence list holds {list.Count} entries, the limit (PresenceOptions.MaxPresenceListSize).");
            }

            SetRelationLocked(owner, target, PresenceListState.Pending);
            if (!target.IsOn(_server))
            {
                Defer(new DeferredSend(target.Server, [], [], [], [new PresenceListRequest(PresenceListAction.Invite, owner, target)]));
            }
        });
        await PersistRelationAsync(owner, target, CancellationToken.None).ConfigureAwait(false); // the change is made: save it whatever the token says
        return new PresenceListEntry(owner, target, state);
    }

    public async ValueTask RemoveFromPresenceListAsync(UserId owner, UserId target, CancellationToken cancellationToken = default)
    {
        RequireLocal(owner, nameof(owner));
        RequireUser(target, nameof(target));
        WithLock(_ =>
        {
            if (!RemoveRelationLocked(owner, target))
            {
                return;
            }

            if (!target.IsOn(_server))
            {
                // Unlike historical Synapse, the grant ends on the other side too: a withdrawal is a deny from the observer.
                Defer(new DeferredSend(target.Server, [], [], [], [new PresenceListRequest(PresenceListAction.Deny, owner, target)]));
            }
        });
        await PersistRelationAsync(owner, target, CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask AnswerPresenceRequestAsync(UserId target, UserId observer, bool allow, CancellationToken cancellationToken = default)
    {
        RequireLocal(target, nameof(target));
        RequireUser(observer, nameof(observer));
        await EnsureLoadedAsync([target], cancellationToken).ConfigureAwait(false); // an allow carries the target's current presence
        WithLock(now =>
        {
            if (!_relations.ContainsKey((observer, target)))
            {
                throw new InvalidOperationException($"There is no presence-list request from {observer} to answer.");
            }

            if (_relations[(observer, target)] == PresenceListState.Pending && !observer.IsOn(_server))
            {
                AdjustPendingInvites(observer.Server, -1);
            }

            SetRelationLocked(observer, target, allow ? PresenceListState.Allowed : PresenceListState.Denied);
            bool shows = allow && MaySeeLocked(observer, target, sharesRoom: false);
            if (!observer.IsOn(_server))
            {
                var answer = new PresenceListRequest(allow ? PresenceListAction.Accept : PresenceListAction.Deny, observer, target);
                PresenceSnapshot[] push = shows && TryReadLocked(target, out var current) ? [current] : [];
                Defer(new DeferredSend(observer.Server, push, [], [], [answer]));
                if (!allow)
                {
                    PrunePeerSubscribersLocked(target); // a server whose only reason was this grant stops receiving
                }
            }
            else if (shows && _subscribers.TryGetValue(observer, out var feeds) && TryReadLocked(target, out var current))
            {
                EnqueueAll(feeds, current);
            }
        });
        await PersistRelationAsync(observer, target, CancellationToken.None).ConfigureAwait(false);
    }

    public IReadOnlyList<PresenceListItem> GetPresenceList(UserId owner)
    {
        RequireLocal(owner, nameof(owner));
        var items = new List<PresenceListItem>();
        WithLock(now =>
        {
            if (!_listOf.TryGetValue(owner, out var targets))
            {
                return;
            }

            foreach (var target in targets.Order())
            {
                var state = _relations[(owner, target)];
                var presence = state == PresenceListState.Allowed && MaySeeLocked(owner, target, sharesRoom: false) && TryReadLocked(target, out var current)
                    ? current
                    : PresenceSnapshot.Unknown(target);
                items.Add(new PresenceListItem(new PresenceListEntry(owner, target, state), presence));
            }
        });
        return items;
    }

    public IReadOnlyList<PresenceListEntry> GetPendingRequests(UserId target)
    {
        RequireLocal(target, nameof(target));
        var pending = new List<PresenceListEntry>();
        WithLock(_ =>
        {
            if (_observersOf.TryGetValue(target, out var observers))
            {
                foreach (var observer in observers.Order())
                {
                    if (_relations[(observer, target)] == PresenceListState.Pending)
                    {
                        pending.Add(new PresenceListEntry(observer, target, PresenceListState.Pending));
                    }
                }
            }
        });
        return pending;
    }

    public void StartPolling(UserId owner)
    {
        RequireLocal(owner, nameof(owner));
        WithLock(now =>
        {
            if (Acquire(_explicitPolling, owner))
            {
                StartPollingLocked(owner, now); // explicit calls together hold one share, apart from subscriptions
            }
        });
    }

    public void StopPolling(UserId owner)
    {
        RequireLocal(owner, nameof(owner));
        WithLock(_ =>
        {
            if (Release(_explicitPolling, owner))
            {
                StopPollingLocked(owner); // an unbalanced extra call releases nothing a subscription holds
            }
        });
    }

    private void StartPollingLocked(UserId owner, long now)
    {
        if (Acquire(_polling, owner))
        {
            foreach (var target in AllowedRemoteTargetsLocked(owner))
            {
                AddWatchRefLocked(target, now);
            }
        }
    }

    private void StopPollingLocked(UserId owner)
    {
        if (Release(_polling, owner))
        {
            foreach (var target in AllowedRemoteTargetsLocked(owner))
            {
                ReleaseWatchRefLocked(target);
            }
        }
    }

    /// <summary>Counts one more holder; true when it is the first.</summary>
    private static bool Acquire(Dictionary<UserId, int> counts, UserId key)
    {
        counts.TryGetValue(key, out int count);
        counts[key] = count + 1;
        return count == 0;
    }

    /// <summary>Counts one holder less; true when it was the last (a release without a holder changes nothing).</summary>
    private static bool Release(Dictionary<UserId, int> counts, UserId key)
    {
        if (!counts.TryGetValue(key, out int count))
        {
            return false;
        }

        if (count > 1)
        {
            counts[key] = count - 1;
            return false;
        }

        counts.Remove(key);
        return true;
    }

    private List<UserId> AllowedRemoteTargetsLocked(UserId owner)
    {
        var targets = new List<UserId>();
        if (_listOf.TryGetValue(owner, out var list))
        {
            foreach (var target in list)
            {
                if (!target.IsOn(_server) && _relations[(owner, target)] == PresenceListState.Allowed)
                {
                    targets.Add(target);
                }
            }
        }

        return targets;
    }

    private void AddWatchRefLocked(UserId remote, long now)
    {
        if (Acquire(_watchRefs, remote))
        {
            WatchLocked(remote, now);
        }
    }

    private void ReleaseWatchRefLocked(UserId remote)
    {
        if (Release(_watchRefs, remote))
        {
            UnwatchLocked(remote);
        }
    }

    /// <summary>Records a relation's state and keeps the indexes and polling interest in step. Lock held.</summary>
    private void SetRelationLocked(UserId observer, UserId observed, PresenceListState state)
    {
        bool wasAllowed = _relations.TryGetValue((observer, observed), out var before) && before == PresenceListState.Allowed;
        _relations[(observer, observed)] = state;
        if (observer.IsOn(_server))
        {
            if (!_listOf.TryGetValue(observer, out var list))
            {
                _listOf[observer] = list = [];
            }

            list.Add(observed);
        }

        if (!_observersOf.TryGetValue(observed, out var observers))
        {
            _observersOf[observed] = observers = [];
        }

        observers.Add(observer);
        UpdateInterestLocked(observer, observed, wasAllowed, state == PresenceListState.Allowed);
    }

    private bool RemoveRelationLocked(UserId observer, UserId observed)
    {
        if (!_relations.Remove((observer, observed), out var before))
        {
            return false;
        }

        if (_listOf.TryGetValue(observer, out var list) && list.Remove(observed) && list.Count == 0)
        {
            _listOf.Remove(observer);
        }

        if (_observersOf.TryGetValue(observed, out var observers) && observers.Remove(observer) && observers.Count == 0)
        {
            _observersOf.Remove(observed);
        }

        UpdateInterestLocked(observer, observed, before == PresenceListState.Allowed, false);
        return true;
    }

    private void UpdateInterestLocked(UserId observer, UserId observed, bool wasAllowed, bool isAllowed)
    {
        if (wasAllowed == isAllowed || observed.IsOn(_server) || !_polling.ContainsKey(observer))
        {
            return;
        }

        if (isAllowed)
        {
            AddWatchRefLocked(observed, Now());
        }
        else
        {
            ReleaseWatchRefLocked(observed);
        }
    }

    private bool IsAllowedLocked(UserId observer, UserId observed)
        => _relations.TryGetValue((observer, observed), out var state) && state == PresenceListState.Allowed;

    /// <summary>
    /// May <paramref name="viewer"/> see <paramref name="target"/>? Gathers the inputs of <see cref="VisibilityRule"/>: the
    /// target's visibility, an accepted list entry, and — only when it matters — whether they share a room
    /// (<paramref name="sharesRoom"/> when the caller knows, else the room cache; unknown counts as not sharing). Lock held.
    /// </summary>
    private bool MaySeeLocked(UserId viewer, UserId target, bool? sharesRoom = null)
    {
        var visibility = VisibilityOfLocked(target);
        bool self = viewer == target;
        bool shares = !self && VisibilityRule.NeedsRooms(visibility) && (sharesRoom ?? _rooms.SharesRoom(viewer, target) ?? false);
        return VisibilityRule.MaySee(visibility, self, shares, VisibilityRule.NeedsObserver(visibility, self, shares) && IsAllowedLocked(viewer, target));
    }

    /// <summary>Writes a relation's current state (or its absence) to the list store, one write at a time, outside the lock.</summary>
    private async ValueTask PersistRelationAsync(UserId observer, UserId observed, CancellationToken cancellationToken)
    {
        await _listWrites.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            PresenceListState? state;
            lock (_lock)
            {
                state = _relations.TryGetValue((observer, observed), out var current) ? current : null;
            }

            if (state is { } known)
            {
                await _listStore.SaveAsync(new PresenceListEntry(observer, observed, known), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _listStore.RemoveAsync(observer, observed, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "list_save"));
            Log.ListSaveFailed(_logger, ex);
            throw;
        }
        finally
        {
            _listWrites.Release();
        }
    }

    /// <summary>Applies presence-list requests from a peer. Lock held; returns the relations to persist.</summary>
    private List<(UserId Observer, UserId Observed)>? ApplyListRequestsLocked(ServerName origin, IReadOnlyList<PresenceListRequest> requests, HashSet<UserId>? noAccount, ref int budget, ref int overBudget)
    {
        List<(UserId, UserId)>? changed = null;
        var replies = new List<PresenceListRequest>();
        foreach (var request in requests)
        {
            if (budget-- <= 0)
            {
                overBudget++;
                continue;
            }

            if (request is null)
            {
                DropInbound(origin, "malformed");
                continue;
            }

            var (observer, observed) = (request.Observer, request.Observed);
            bool observerThere = observer.IsOn(origin) && observed.IsOn(_server);
            bool observedThere = observed.IsOn(origin) && observer.IsOn(_server);
            switch (request.Action)
            {
                case PresenceListAction.Invite when observerThere:
                    if (noAccount is not null && noAccount.Contains(observed))
                    {
                        // Refused without a store write: the observer's server learns at once (de-duplicated per pair).
                        DropInbound(origin, "no_such_user");
                        replies.Add(new PresenceListRequest(PresenceListAction.Deny, observer, observed));
                    }
                    else if (_relations.TryGetValue((observer, observed), out var existing))
                    {
                        if (existing != PresenceListState.Pending)
                        {
                            replies.Add(new PresenceListRequest(existing == PresenceListState.Allowed ? PresenceListAction.Accept : PresenceListAction.Deny, observer, observed));
                        }
                    }
                    else if (_pendingInvites.GetValueOrDefault(origin) >= _options.Federation.MaxPendingInvitesPerPeer)
                    {
                        DropInbound(origin, "invite_cap");
                    }
                    else
                    {
                        AdjustPendingInvites(origin, +1);
                        SetRelationLocked(observer, observed, PresenceListState.Pending);
                        (changed ??= []).Add((observer, observed));
                    }

                    break;
                case PresenceListAction.Accept or PresenceListAction.Deny when observedThere:
                    if (_relations.TryGetValue((observer, observed), out var current))
                    {
                        var answered = request.Action == PresenceListAction.Accept ? PresenceListState.Allowed : PresenceListState.Denied;
                        if (current == answered)
                        {
                            break; // a repeated answer changes nothing and costs no store write
                        }

                        SetRelationLocked(observer, observed, request.Action == PresenceListAction.Accept ? PresenceListState.Allowed : PresenceListState.Denied);
                        (changed ??= []).Add((observer, observed));
                    }
                    else
                    {
                        DropInbound(origin, "unsolicited_answer");
                    }

                    break;
                case PresenceListAction.Deny when observerThere:
                    // The remote observer withdrew: the permission ends here too.
                    if (_relations.TryGetValue((observer, observed), out var withdrawn))
                    {
                        if (withdrawn == PresenceListState.Pending)
                        {
                            AdjustPendingInvites(origin, -1);
                        }

                        RemoveRelationLocked(observer, observed);
                        PrunePeerSubscribersLocked(observed); // only if nothing else lets that server see the user
                        (changed ??= []).Add((observer, observed));
                    }

                    break;
                default:
                    DropInbound(origin, observer.IsOn(origin) || observed.IsOn(origin) ? "not_local" : "forged_origin");
                    break;
            }
        }

        if (replies.Count > 0)
        {
            Defer(new DeferredSend(origin, [], [], [], [.. replies]));
        }

        return changed;
    }

    /// <summary>Counts a peer's unanswered invites up or down; an entry that reaches zero is removed. Lock held.</summary>
    private void AdjustPendingInvites(ServerName peer, int delta)
    {
        int count = Math.Max(0, _pendingInvites.GetValueOrDefault(peer) + delta);
        if (count == 0)
        {
            _pendingInvites.Remove(peer);
        }
        else
        {
            _pendingInvites[peer] = count;
        }
    }

    private void RequireLocal(UserId user, string parameterName)
    {
        RequireUser(user, parameterName);
        if (!user.IsOn(_server))
        {
            Reject("foreign_user", "a list or visibility call for a user of another server");
            throw new ArgumentException($"The user {user} is not a user of this server ({_server}).", parameterName);
        }
    }
}
