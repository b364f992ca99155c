namespace Presence.Internal;

/// <summary>Presence between servers: inbound messages, routing local changes out, watchdogs and reminders.</summary>
internal sealed partial class DefaultPresenceEngine
{
    private readonly OutboundScheduler? _outbound;
    private readonly WatchdogManager _watchdogs;
    private readonly long _remoteStaleAfter;

    /// <summary>Local user → peers subscribed to them (they polled).</summary>
    private readonly Dictionary<UserId, HashSet<ServerName>> _peerSubscribers = [];

    /// <summary>Peer → local users it subscribed to: what a reminder to it holds.</summary>
    private readonly Dictionary<ServerName, HashSet<UserId>> _subscribedBy = [];

    /// <summary>Peer → its users we watch: what we poll it for again when a watchdog fires.</summary>
    private readonly Dictionary<ServerName, HashSet<UserId>> _watching = [];

    /// <summary>Peers that have sent a reminder: they follow seed 000, so their users do not go stale by the per-user rule but by the promise lifetime.</summary>
    private readonly HashSet<ServerName> _remindingPeers = [];

    /// <summary>Peers whose messages carry this protocol's ordering key: they derive <c>currently_active</c> themselves.</summary>
    private readonly HashSet<ServerName> _protocolPeers = [];

    /// <summary>Peers we sent a local user's presence because they share a room: their liveness is kept even with no subscription.</summary>
    private readonly HashSet<ServerName> _roomPeers = [];

    /// <summary>Peer → how many of its users the table holds: a hostile peer cannot grow memory without bound.</summary>
    private readonly Dictionary<ServerName, int> _remoteUsers = [];

    private readonly HashSet<ServerName> _serverScratch = [];
    private List<(ServerName Peer, List<PresenceSnapshot> Push, List<UserId> Poll, bool Reminder)>? _reminders;
    private List<DeferredSend>? _deferredSends;

    public async ValueTask ReceiveAsync(ServerName origin, PresenceMessage message, CancellationToken cancellationToken = default)
    {
        if (origin.IsEmpty)
        {
            throw new PresenceException(PresenceErrorCodes.InvalidParam, "The origin server is required.");
        }

        ArgumentNullException.ThrowIfNull(message);
        if (origin == _server)
        {
            // Nobody speaks for this server's users but this engine: a message "from" ourselves is dropped whole.
            lock (_lock)
            {
                ThrowIfNotRunning();
            }

            DropInbound(origin, "self_origin");
            return;
        }

        _outbound?.NoteInbound(origin); // a failing destination that talks to us is up: retry now
        var federation = _options.Federation;

        // Existence first (held, or a record in the store), then interest the caches already know; only the rest cost a
        // membership lookup, at most MaxMembershipLookupsPerMessage of them.
        var polled = message.Poll.Take(federation.MaxInboundEntriesPerMessage).Where(user => user.IsOn(_server)).Distinct().ToList();
        var invited = message.ListRequests.Take(federation.MaxInboundEntriesPerMessage)
            .Where(r => r is { Action: PresenceListAction.Invite } && r.Observed.IsOn(_server)).Select(static r => r.Observed).Distinct().ToList();
        HashSet<UserId>? overLookupBudget = null;
        HashSet<UserId>? noAccount = null;
        if (polled.Count > 0)
        {
            await EnsureLoadedAsync(polled, cancellationToken).ConfigureAwait(false);
        }

        if (invited.Count > 0 && _membership is ILocalUserDirectory directory)
        {
            foreach (var user in invited.Take(federation.MaxMembershipLookupsPerMessage))
            {
                if (!await directory.UserExistsAsync(user, cancellationToken).ConfigureAwait(false))
                {
                    (noAccount ??= []).Add(user);
                }
            }

            foreach (var user in invited.Skip(federation.MaxMembershipLookupsPerMessage))
            {
                (noAccount ??= []).Add(user); // beyond the lookup budget: refused, not looked up
            }
        }

        if (polled.Count > 0)
        {
            List<UserId>? lookups = null;
            lock (_lock)
            {
                ThrowIfNotRunning();
                foreach (var user in polled)
                {
                    if (!ExistsLocked(user) || _rooms.TryGetRooms(user, out _) || !VisibilityRule.NeedsRooms(VisibilityOfLocked(user)))
                    {
                        continue; // refused without a lookup, or decided by the caches and the user's visibility
                    }

                    if ((lookups?.Count ?? 0) < federation.MaxMembershipLookupsPerMessage)
                    {
                        (lookups ??= []).Add(user);
                    }
                    else
                    {
                        (overLookupBudget ??= []).Add(user);
                    }
                }
            }

            if (lookups is not null)
            {
                await EnsureRoomsAsync(lookups, cancellationToken).ConfigureAwait(false);
            }
        }

        List<PresenceSnapshot>? answer = null;
        List<(UserId Observer, UserId Observed)>? relationsChanged;
        Followups misses;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            _watchdogs.NoteTraffic(origin, now);
            if (message.IsReminder)
            {
                _remindingPeers.Add(origin);
                _watchdogs.NoteReminder(origin, now);
            }

            if ((message.IsReminder || message.Sequence is not null) && _protocolPeers.Add(origin))
            {
                _outbound?.MarkProtocolPeer(origin); // it derives currently_active: flips are never sent to it
            }

            int budget = federation.MaxInboundEntriesPerMessage;
            int overBudget = 0;

            // Servers that send reminders promise to push for a lifetime (stated, or the protocol default);
            // servers that never do get today's rule: no update for RemoteStaleAfter means unknown.
            long staleAfter = _remindingPeers.Contains(origin)
                ? _timeBase.ToTicks(message.PromiseLifetime ?? federation.DefaultPromiseLifetime)
                : _remoteStaleAfter;
            // Answers first: an accept and the presence it carries arrive together, and the presence must find the permission.
            relationsChanged = ApplyListRequestsLocked(origin, message.ListRequests, noAccount, ref budget, ref overBudget);
            _remoteUsers.TryGetValue(origin, out int heldForOrigin);
            foreach (var pushed in message.Push)
            {
                if (budget-- <= 0)
                {
                    overBudget++;
                }
                else if (pushed is null)
                {
                    DropInbound(origin, "malformed");
                }
                else if (!pushed.User.IsOn(origin))
                {
                    DropInbound(origin, "forged_origin"); // a server speaks only for its own users
                }
                else if (pushed.State is PresenceState.Unknown or > PresenceState.Busy)
                {
                    DropInbound(origin, "bad_state");
                }
                else if (pushed.StatusMessage is { Length: var length } && length > _options.MaxStatusMessageLength)
                {
                    DropInbound(origin, "status_too_long");
                }
                else if (ApplyRemoteLocked(BusyAsConfigured(pushed), staleAfter, heldForOrigin < federation.MaxRemoteUsersPerPeer, ref heldForOrigin, message.Sequence ?? 0) is var applied && applied != RemoteApplied.Applied)
                {
                    DropInbound(origin, applied == RemoteApplied.OverCap ? "remote_user_cap" : "stale_order");
                }
            }

            if (heldForOrigin > 0)
            {
                _remoteUsers[origin] = heldForOrigin;
            }
            else
            {
                _remoteUsers.Remove(origin); // no entry for a peer we hold nobody of
            }

            foreach (var user in message.Poll)
            {
                if (budget-- <= 0)
                {
                    overBudget++;
                }
                else if (!user.IsOn(_server))
                {
                    DropInbound(origin, "not_local");
                }
                else if (!ExistsLocked(user) && !AllowedObserverOnLocked(origin, user))
                {
                    // A user who accepted an observer there exists, though never seen yet (no presence held, none stored):
                    // the poll stands, so the peer hears when they first come online.
                    DropInbound(origin, "no_such_user");
                }
                else if (overLookupBudget is not null && overLookupBudget.Contains(user))
                {
                    DropInbound(origin, "lookup_budget");
                }
                else if (!PeerMaySeeLocked(origin, user))
                {
                    DropInbound(origin, "no_interest");
                }
                else if (AddPeerSubscriberLocked(origin, user, now) && TryReadLocked(user, out var snapshot))
                {
                    if (!snapshot.IsUnknown)
                    {
                        (answer ??= []).Add(snapshot);
                    }
                }
            }

            foreach (var user in message.Unpoll)
            {
                if (budget-- <= 0)
                {
                    overBudget++;
                }
                else
                {
                    RemovePeerSubscriberLocked(origin, user);
                }
            }

            DropInbound(origin, "too_many_entries", overBudget);

            misses = AfterChangeLocked(now);
        }

        if (answer is not null)
        {
            _outbound?.SendNow(origin, answer, [], [], reminder: false); // a poll is answered at once
        }

        RunFollowups(misses); // also pumps the outbound channel
        await PersistPeerSubscriptionsAsync(CancellationToken.None).ConfigureAwait(false); // a poll's promise is durable before we return
        if (relationsChanged is not null)
        {
            foreach (var (observer, observed) in relationsChanged)
            {
                try
                {
                    // The change is made: it is saved whatever the caller's token says; one failure does not stop the rest.
                    await PersistRelationAsync(observer, observed, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Logged and counted where it failed; the other relations are still saved.
                }
            }
        }
    }

    /// <summary>
    /// May users of <paramref name="peer"/> see the local <paramref name="user"/>? An accepted observer there, or — when the
    /// user shows presence to room members — someone there sharing a room (from the cached co-members). Lock held.
    /// </summary>
    private bool PeerMaySeeLocked(ServerName peer, UserId user, bool assumeRoomWhenUnknown = false)
    {
        var visibility = VisibilityOfLocked(user);

        // An honoured subscription stands while the rooms are not cached, until a membership change says otherwise.
        bool roomThere = VisibilityRule.NeedsRooms(visibility) && (_rooms.ServerSharesRoom(user, peer) ?? assumeRoomWhenUnknown);
        bool observerThere = VisibilityRule.NeedsObserver(visibility, self: false, roomThere) && AllowedObserverOnLocked(peer, user);
        return VisibilityRule.MaySee(visibility, self: false, roomThere, observerThere);
    }

    /// <summary>Has the local <paramref name="user"/> accepted an observer on <paramref name="peer"/> (a list entry)? Lock held.</summary>
    private bool AllowedObserverOnLocked(ServerName peer, UserId user)
    {
        if (_observersOf.TryGetValue(user, out var observers))
        {
            foreach (var observer in observers)
            {
                if (observer.IsOn(peer) && IsAllowedLocked(observer, user))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Ends the subscriptions of servers that may no longer see a local user (rooms left, permission withdrawn). Lock held.</summary>
    private void PrunePeerSubscribersLocked(UserId user)
    {
        if (!_peerSubscribers.TryGetValue(user, out var peers))
        {
            return;
        }

        foreach (var peer in peers.ToList())
        {
            if (!PeerMaySeeLocked(peer, user, assumeRoomWhenUnknown: true))
            {
                RemovePeerSubscriberLocked(peer, user);
            }
        }
    }

    public void NoteTraffic(ServerName origin)
    {
        if (origin.IsEmpty)
        {
            throw new PresenceException(PresenceErrorCodes.InvalidParam, "The origin server is required.");
        }

        lock (_lock)
        {
            ThrowIfNotRunning();
            _watchdogs.NoteTraffic(origin, Now());
        }

        _outbound?.NoteInbound(origin); // a failing destination that talks to us is up: retry now
    }

    public IPresenceOutbox Outbox => (IPresenceOutbox?)_outbound ?? NoOutbox.Instance;

    /// <summary>Gets how many entries of every kind wait for other servers (tests).</summary>
    internal int OutboundQueued => _outbound?.QueuedEntries ?? 0;

    /// <summary>Gets how many sends to other servers are in flight (tests wait for them).</summary>
    internal int OutboundInFlight => _outbound?.InFlight ?? 0;

    /// <summary>Completes once no outbound send is in flight (tests: sends end on the thread pool, after the clock step that started them).</summary>
    internal Task WhenOutboundIdleForTestAsync() => _outbound?.WhenNoneInFlightAsync() ?? Task.CompletedTask;

    /// <summary>Gets whether the outbox treats <paramref name="peer"/> as speaking this protocol (tests).</summary>
    internal bool IsProtocolPeer(ServerName peer) => _outbound?.IsProtocolPeer(peer) ?? false;

    /// <summary>Queues polls, unpolls and list requests for a server and sends at once (tests).</summary>
    internal void SendNowForTest(ServerName to, UserId[] poll, UserId[] unpoll, PresenceListRequest[] lists) => _outbound?.SendNow(to, [], poll, unpoll, reminder: false, lists);

    /// <summary>The outbox of an engine without a transport: nothing is ever owed.</summary>
    private sealed class NoOutbox : IPresenceOutbox
    {
        public static readonly NoOutbox Instance = new();

        public PresenceOutboxBatch? TryTake(ServerName destination) => null;
    }

    /// <summary>Does the local user exist: held in memory, or read from the store (callers load first)? Lock held.</summary>
    private bool ExistsLocked(UserId user)
    {
        var shard = ShardOf(user);
        lock (shard.Gate)
        {
            return shard.Table.TryFind(user, out _);
        }
    }

    /// <summary>A peer's busy reaches this server's clients as online where busy is disabled.</summary>
    private PresenceSnapshot BusyAsConfigured(PresenceSnapshot pushed)
        => pushed.State != PresenceState.Busy || _options.EnableBusy
            ? pushed
            : new PresenceSnapshot(pushed.User, PresenceState.Online, pushed.StatusMessage, pushed.LastActive, pushed.CurrentlyActive, pushed.DeviceKinds);

    /// <summary>Starts watching a remote user (tests; the engine does it through presence-list interest).</summary>
    internal void Watch(UserId remote) => WithLock(now => WatchLocked(remote, now));

    /// <summary>Stops watching a remote user (tests; the engine does it through presence-list interest).</summary>
    internal void Unwatch(UserId remote) => WithLock(_ => UnwatchLocked(remote));

    /// <summary>Their server is asked for their presence and promises to push changes. Lock held; the poll goes after it.</summary>
    private void WatchLocked(UserId remote, long now)
    {
        var server = remote.Server;
        if (!_watching.TryGetValue(server, out var users))
        {
            _watching[server] = users = [];
        }

        if (users.Add(remote))
        {
            _watchdogs.Track(server, now);
            Defer(new DeferredSend(server, [], [remote], [], null));
        }
    }

    private void UnwatchLocked(UserId remote)
    {
        var server = remote.Server;
        if (_watching.TryGetValue(server, out var users) && users.Remove(remote))
        {
            if (users.Count == 0)
            {
                _watching.Remove(server);
                ReleasePeerIfIdleLocked(server);
            }

            Defer(new DeferredSend(server, [], [], [remote], null));
        }
    }

    private void Defer(DeferredSend send)
    {
        if (_outbound is not null)
        {
            (_deferredSends ??= []).Add(send);
        }
    }

    /// <summary>Runs <paramref name="action"/> under the lock with the current time, then its follow-ups outside.</summary>
    private void WithLock(Action<long> action)
    {
        Followups followups;
        lock (_lock)
        {
            ThrowIfNotRunning();
            long now = Now();
            action(now);
            followups = AfterChangeLocked(now);
        }

        RunFollowups(followups);
    }

    private bool AddPeerSubscriberLocked(ServerName peer, UserId user, long now)
    {
        if (!_subscribedBy.TryGetValue(peer, out var users))
        {
            _subscribedBy[peer] = users = [];
        }

        if (!users.Contains(user) && users.Count >= _options.Federation.MaxSubscriptionsPerPeer)
        {
            DropInbound(peer, "subscription_cap");
            return false;
        }

        users.Add(user);
        if (!_peerSubscribers.TryGetValue(user, out var peers))
        {
            _peerSubscribers[user] = peers = [];
        }

        peers.Add(peer);
        _watchdogs.Track(peer, now);
        NotePeerSubscriptionLocked(peer, user, subscribed: true);
        return true;
    }

    private void RemovePeerSubscriberLocked(ServerName peer, UserId user)
    {
        if (_subscribedBy.TryGetValue(peer, out var users) && users.Remove(user) && users.Count == 0)
        {
            _subscribedBy.Remove(peer);
            ReleasePeerIfIdleLocked(peer);
        }

        if (_peerSubscribers.TryGetValue(user, out var peers) && peers.Remove(peer) && peers.Count == 0)
        {
            _peerSubscribers.Remove(user);
        }

        NotePeerSubscriptionLocked(peer, user, subscribed: false);
    }

    /// <summary>Queues a local user's change for every server that should hear it: subscribers, and servers sharing a room. Lock held.</summary>
    private void RouteOutboundLocked(PresenceSnapshot snapshot, bool roomsKnown)
    {
        if (_outbound is null || !snapshot.User.IsOn(_server))
        {
            return;
        }

        var servers = _serverScratch;
        servers.Clear();
        if (_peerSubscribers.TryGetValue(snapshot.User, out var peers))
        {
            foreach (var peer in peers)
            {
                if (PeerMaySeeLocked(peer, snapshot.User, assumeRoomWhenUnknown: true))
                {
                    servers.Add(peer);
                }
            }
        }

        if (roomsKnown && VisibilityRule.NeedsRooms(VisibilityOfLocked(snapshot.User)))
        {
            _rooms.TryCollectServers(snapshot.User, servers);
        }

        foreach (var server in servers)
        {
            OweLocked(server, snapshot);
        }
    }

    /// <summary>
    /// Queues a local user's presence for a server that may see it, and keeps that server's liveness: watchdogs and
    /// reminders for peers of this protocol, the periodic re-send for the others. Lock held.
    /// </summary>
    private void OweLocked(ServerName server, PresenceSnapshot snapshot)
    {
        _outbound!.Enqueue(server, snapshot);
        if (_roomPeers.Add(server) || !_watchdogs.IsTracked(server))
        {
            _watchdogs.Track(server, Now());
        }
    }

    /// <summary>
    /// Collects what fired deadlines owe. The seed's watchdogs (short and long) fire for peers we exchange subscriptions
    /// with (they polled our users, or we watch theirs): a reminder carrying our current state of every user the peer may
    /// see — through subscriptions and rooms — and a new poll of its users we watch. The refresh cycle, at the pair's own
    /// phase, fires for every peer that may see our users: each of them not offline is owed again within the lazy window
    /// (riding any transaction going there, else one message), so no server that shares a room with our users lets them
    /// go stale by the 30-minute rule of today's servers. A peer owed nothing either way is released. Lock held.
    /// </summary>
    private void ExpireWatchdogsLocked(long now)
    {
        if (_watchdogs.NextDeadline > now)
        {
            return; // the tick was for a user deadline
        }

        var fired = new List<(ServerName Peer, WatchdogKind Kind)>();
        _watchdogs.Expire(now, fired);
        List<UserId>? showing = null;
        foreach (var (peer, kind) in fired)
        {
            bool refresh = kind == WatchdogKind.Refresh;
            bool exchange = _subscribedBy.ContainsKey(peer) || _watching.ContainsKey(peer);
            if (!refresh && !exchange)
            {
                continue; // a room-only peer's liveness is the refresh cycle
            }

            if (!refresh)
            {
                _metrics.WatchdogFired.Add(1, new KeyValuePair<string, object?>("kind", kind == WatchdogKind.Long ? "long" : "short"));
            }

            var push = CollectOwedLocked(peer, refresh, ref showing);
            List<UserId> poll = !refresh && _watching.TryGetValue(peer, out var watched) ? [.. watched] : [];
            if (push.Count > 0 || poll.Count > 0)
            {
                (_reminders ??= []).Add((peer, push, poll, !refresh));
            }
            else if (refresh && !exchange)
            {
                _roomPeers.Remove(peer); // it sees none of our users any more: no liveness owed
                ReleasePeerIfIdleLocked(peer);
            }
        }
    }

    /// <summary>
    /// What a peer is owed of our users: the state of every user it subscribed to (offline ones too, unless this is the
    /// refresh cycle) and of every user not offline it shares a room with. Lock held.
    /// </summary>
    private List<PresenceSnapshot> CollectOwedLocked(ServerName peer, bool refresh, ref List<UserId>? showing)
    {
        var push = new List<PresenceSnapshot>();
        var added = new HashSet<UserId>();
        if (_subscribedBy.TryGetValue(peer, out var users))
        {
            foreach (var user in users)
            {
                if (PeerMaySeeLocked(peer, user, assumeRoomWhenUnknown: true) && TryReadLocked(user, out var snapshot) && !snapshot.IsUnknown
                    && (!refresh || snapshot.State != PresenceState.Offline) && added.Add(user))
                {
                    push.Add(snapshot);
                }
            }
        }

        if (_roomPeers.Contains(peer))
        {
            showing ??= CollectShowingLocked();
            foreach (var user in showing)
            {
                if (!added.Contains(user) && PeerMaySeeLocked(peer, user) && TryReadLocked(user, out var snapshot)
                    && snapshot.State is not (PresenceState.Offline or PresenceState.Unknown) && added.Add(user))
                {
                    push.Add(snapshot);
                }
            }
        }

        return push;
    }

    /// <summary>
    /// A peer whose queue was dropped at the failure horizon is heard from again (or a send to it got through): it is owed
    /// at once what it may see, as the refresh cycle would owe it, instead of waiting for that cycle.
    /// </summary>
    private void OnPeerBack(ServerName peer)
    {
        List<PresenceSnapshot> push;
        lock (_lock)
        {
            if (_state != Running)
            {
                return;
            }

            List<UserId>? showing = null;
            push = CollectOwedLocked(peer, refresh: false, ref showing);
        }

        if (push.Count > 0)
        {
            _outbound?.SendNow(peer, push, [], [], reminder: false);
        }
    }

    /// <summary>The local users in memory whose presence is not offline. Lock held (takes each shard's gate in turn).</summary>
    private List<UserId> CollectShowingLocked()
    {
        var users = new List<UserId>();
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                shard.Table.CollectShowing(users);
            }
        }

        return users;
    }

    /// <summary>Sends what fired watchdogs owe: reminders (state and polls) and spec-only re-sends, each peer's in one message.</summary>
    private void SendReminders(List<(ServerName Peer, List<PresenceSnapshot> Push, List<UserId> Poll, bool Reminder)>? reminders)
    {
        if (reminders is null || _outbound is null)
        {
            return;
        }

        foreach (var (peer, push, poll, reminder) in reminders)
        {
            if (reminder)
            {
                _outbound.SendNow(peer, push, poll, [], reminder);
            }
            else
            {
                _outbound.Refresh(peer, push); // within the lazy window: rides any transaction going there first
            }
        }
    }

    /// <summary>The transport kept failing for a peer past the horizon: its subscriptions lapse and what we hold of its users is unknown.</summary>
    private void OnPeerGaveUp(ServerName peer)
    {
        Followups misses;
        lock (_lock)
        {
            if (_state != Running)
            {
                return;
            }

            if (_subscribedBy.Remove(peer, out var users))
            {
                foreach (var user in users)
                {
                    if (_peerSubscribers.TryGetValue(user, out var peers) && peers.Remove(peer) && peers.Count == 0)
                    {
                        _peerSubscribers.Remove(user);
                    }

                    NotePeerSubscriptionLocked(peer, user, subscribed: false);
                }
            }

            ReleasePeerIfIdleLocked(peer);

            // What we hold of the peer's users is left to expire by its own rule: inbound may still be flowing.
            misses = AfterChangeLocked(Now());
        }

        RunFollowups(misses);
    }

    private void DropInbound(ServerName origin, string reason, int count = 1)
    {
        if (count <= 0)
        {
            return;
        }

        _metrics.InboundDropped.Add(count, new KeyValuePair<string, object?>("reason", reason));
        Log.InboundDropped(_logger, origin.Value, reason, count);
    }
}
