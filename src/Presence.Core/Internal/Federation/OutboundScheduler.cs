using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Presence.Internal;

/// <summary>
/// What each destination is owed, and when: the one place that decides it. Changes arrive through a channel (the engine
/// never waits on a slow transport); per destination only the latest state of each user is kept, in first-queued order,
/// with the deadline its urgency sets — prompt changes within the batch window, lazy ones within the lazy window,
/// derivable ones (a <c>currently_active</c> falling back) never to peers that speak this protocol. Whatever is owed
/// leaves together: taken by the host's own transaction to the destination (<see cref="TryTake"/>), or sent through the
/// transport when the earliest deadline passes first. Deadlines lie on a grid with a phase per (origin, destination), so
/// no instant has every server sending to one destination. One send in flight per destination; a send that times out is
/// cancelled through its token; failures are retried with backoff (at once when the peer is heard from) while newer states
/// replace older ones; a destination failing past the horizon has its queue dropped. Every message is split to the
/// receiver's per-message limits and carries an ordering key. One timer drives every destination.
/// </summary>
internal sealed class OutboundScheduler : IPresenceOutbox
{
    /// <summary>The most presence-list requests in one message: with the <c>m.presence</c> EDU, at most 50 EDUs (Matrix allows 100 per transaction; the host's own need room).</summary>
    internal const int MaxListRequestsPerMessage = 49;

    /// <summary>The most list requests and answers queued for one destination; beyond it new ones are dropped and counted.</summary>
    internal const int MaxQueuedListRequestsPerPeer = 10_000;

    private readonly Lock _lock = new();
    private readonly Channel<(ServerName Destination, PresenceSnapshot Snapshot)> _changes =
        Channel.CreateUnbounded<(ServerName, PresenceSnapshot)>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Dictionary<ServerName, Peer> _peers = [];
    private readonly PriorityQueue<Peer, long> _due = new();
    private readonly ServerName _origin;
    private readonly IPresenceTransport _transport;
    private readonly TimeProvider _time;
    private readonly TimeBase _timeBase;
    private readonly ITimer _timer;
    private readonly ILogger _logger;
    private readonly PresenceInstruments _metrics;
    private readonly Action<ServerName> _onGiveUp;
    private readonly Action<ServerName>? _onBack;
    private readonly CancellationToken _stopping;
    private readonly long _window;
    private readonly long _grid;
    private readonly long _lazyWindow;
    private readonly long _retryInitial;
    private readonly long _retryMax;
    private readonly long _horizon;
    private readonly long _sendTimeoutTicks;
    private readonly int _maxEntries;
    private readonly TimeSpan _sendTimeout;
    private readonly TimeSpan _promiseLifetime;
    private long _armedDue = UserTable.NoDeadline;
    private int _queuedEntries;
    private long _sequence;
    private int _running;
    private TaskCompletionSource? _drained;
    private TaskCompletionSource? _noneInFlight;
    private bool _draining;
    private bool _disposed;

    public OutboundScheduler(
        ServerName origin,
        PresenceFederationOptions options,
        IPresenceTransport transport,
        TimeProvider time,
        TimeBase timeBase,
        ILogger logger,
        PresenceInstruments metrics,
        Action<ServerName> onGiveUp,
        CancellationToken stopping,
        Action<ServerName>? onBack = null)
    {
        _origin = origin;
        _transport = transport;
        _time = time;
        _timeBase = timeBase;
        _logger = logger;
        _metrics = metrics;
        _onGiveUp = onGiveUp;
        _onBack = onBack;
        _stopping = stopping;
        _window = timeBase.ToTicks(options.BatchWindow);
        _grid = Math.Max(1, _window / 2);
        _lazyWindow = Math.Max(_window, timeBase.ToTicks(options.LazyWindow));
        _retryInitial = timeBase.ToTicks(options.RetryInitialDelay);
        _retryMax = timeBase.ToTicks(options.RetryMaxDelay);
        _horizon = timeBase.ToTicks(options.FailureHorizon);
        _maxEntries = options.MaxEntriesPerMessage;
        _sendTimeout = options.SendTimeout;
        _sendTimeoutTicks = timeBase.ToTicks(options.SendTimeout);
        _promiseLifetime = options.DefaultPromiseLifetime;
        _timer = time.CreateTimer(static state => ((OutboundScheduler)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Gets the number of queued entries of every kind (pushes, polls, unpolls, list requests) across destinations.</summary>
    public int QueuedEntries => Volatile.Read(ref _queuedEntries);

    /// <summary>Gets the number of sends (or taken batches) in flight, across destinations.</summary>
    public int InFlight => Volatile.Read(ref _running);

    /// <summary>
    /// Completes once no send or taken batch is in flight (at once if none is). For tests on a fake clock: a send ends on
    /// the thread pool, so a test waits for it here before it moves the clock again.
    /// </summary>
    internal Task WhenNoneInFlightAsync()
    {
        lock (_lock)
        {
            if (_running == 0)
            {
                return Task.CompletedTask;
            }

            _noneInFlight ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _noneInFlight.Task;
        }
    }

    /// <summary>Gets the number of destinations whose last send failed (in backoff); for the engine's status.</summary>
    public int FailingDestinations
    {
        get
        {
            lock (_lock)
            {
                return _peers.Values.Count(static peer => peer.Failures > 0);
            }
        }
    }

    /// <summary>Queues a change for a destination; never blocks. Call <see cref="Pump"/> afterwards, outside any lock.</summary>
    public void Enqueue(ServerName destination, PresenceSnapshot snapshot) => _changes.Writer.TryWrite((destination, snapshot));

    /// <summary>A message with this protocol's ordering key came from <paramref name="peer"/>: it derives <c>currently_active</c> itself.</summary>
    public void MarkProtocolPeer(ServerName peer)
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                GetPeerLocked(peer).Protocol = true;
            }
        }
    }

    /// <summary>Whether <paramref name="peer"/> is known to speak this protocol (tests, diagnostics).</summary>
    public bool IsProtocolPeer(ServerName peer)
    {
        lock (_lock)
        {
            return _peers.TryGetValue(peer, out var p) && p.Protocol;
        }
    }

    /// <summary>Moves queued changes into their destinations' batches and arms their deadlines.</summary>
    public void Pump()
    {
        // Count, not TryPeek: peeking pins the queue's segment, which then cannot be reused and costs an allocation per change.
        if (_changes.Reader.Count == 0)
        {
            return;
        }

        lock (_lock)
        {
            long now = _time.GetTimestamp();
            while (_changes.Reader.TryRead(out var change))
            {
                var peer = GetPeerLocked(change.Destination);
                var urgency = change.Snapshot.Urgency;
                if (urgency == PresenceUrgency.Derivable && peer.Protocol)
                {
                    continue; // the peer works currently_active out from last-active itself
                }

                AddPushLocked(peer, change.Snapshot);
                OweLocked(peer, urgency == PresenceUrgency.Prompt ? PromptDue(peer, now) : LazyDue(peer, now));
            }

            ArmLocked(now);
        }
    }

    /// <summary>
    /// Sends to a destination at once (or as soon as its send in flight completes): pushes, subscription deltas, list
    /// requests and the reminder marker merge with what is already queued for it.
    /// </summary>
    public void SendNow(ServerName destination, IReadOnlyList<PresenceSnapshot> push, IReadOnlyList<UserId> poll, IReadOnlyList<UserId> unpoll, bool reminder, IReadOnlyList<PresenceListRequest>? lists = null)
    {
        List<(Peer, List<PresenceMessage>)>? sends;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var peer = GetPeerLocked(destination);
            AddPushesLocked(peer, push);
            foreach (var user in poll)
            {
                AddPollLocked(peer, user, poll: true);
            }

            foreach (var user in unpoll)
            {
                AddPollLocked(peer, user, poll: false);
            }

            if (lists is not null)
            {
                foreach (var request in lists)
                {
                    AddListLocked(peer, request, front: false);
                }
            }

            peer.Reminder |= reminder;
            peer.Urgent = true; // remembered if a send is in flight: it goes as soon as that one completes
            long now = _time.GetTimestamp();
            sends = TryStartLocked(peer, now, regular: false);
            ArmLocked(now);
        }

        Send(sends);
    }

    /// <summary>
    /// Owes a destination its periodic re-send (users it may see, so they do not go stale there): due within the lazy
    /// window, so it rides any transaction going there first; otherwise it goes as one message at the deadline.
    /// </summary>
    public void Refresh(ServerName destination, IReadOnlyList<PresenceSnapshot> push)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var peer = GetPeerLocked(destination);
            AddPushesLocked(peer, push);
            long now = _time.GetTimestamp();
            OweLocked(peer, LazyDue(peer, now));
            ArmLocked(now);
        }
    }

    /// <summary>
    /// Traffic arrived from <paramref name="peer"/> (a message or any transaction): if sends to it are failing, it is
    /// evidently up, so the retry happens now instead of at the end of its backoff; if its queue was dropped at the
    /// failure horizon, it is owed again what it may see (the engine's callback).
    /// </summary>
    public void NoteInbound(ServerName peer)
    {
        List<(Peer, List<PresenceMessage>)>? sends = null;
        bool back;
        lock (_lock)
        {
            if (_disposed || !_peers.TryGetValue(peer, out var p) || (p.RetryDue == UserTable.NoDeadline && !p.GaveUp))
            {
                return; // the common case: nothing failing, nothing to do
            }

            back = p.GaveUp;
            p.GaveUp = false;
            if (p.RetryDue != UserTable.NoDeadline)
            {
                long now = _time.GetTimestamp();
                p.RetryDue = UserTable.NoDeadline;
                p.ScheduledDue = UserTable.NoDeadline;
                sends = TryStartLocked(p, now, regular: false);
                ArmLocked(now);
            }
        }

        Send(sends);
        if (back)
        {
            _onBack?.Invoke(peer);
        }
    }

    /// <inheritdoc />
    public PresenceOutboxBatch? TryTake(ServerName destination)
    {
        lock (_lock)
        {
            if (_disposed || !_peers.TryGetValue(destination, out var peer) || peer.InFlight || !peer.HasWork)
            {
                return null;
            }

            long now = _time.GetTimestamp();
            peer.RetryDue = UserTable.NoDeadline; // the host is sending there now: that is the retry
            var messages = BuildMessagesLocked(peer);
            StartLocked(peer);
            var batch = new Batch(this, peer, messages);
            peer.Batch = batch;
            peer.BatchDue = now + _sendTimeoutTicks; // a batch the host never ends counts as failed
            peer.ScheduledDue = peer.BatchDue; // after StartLocked: the expiry is the one live entry
            _due.Enqueue(peer, peer.BatchDue);
            ArmLocked(now);
            return batch;
        }
    }

    /// <summary>
    /// Shutdown: sends at once whatever waits for a window or a retry, and waits for every send in flight, at most
    /// <paramref name="timeout"/>. Failures are not retried any more.
    /// </summary>
    public async ValueTask DrainAsync(TimeSpan timeout)
    {
        Pump();
        var sends = new List<(Peer, List<PresenceMessage>)>();
        Task drained;
        lock (_lock)
        {
            if (_disposed || _draining)
            {
                return;
            }

            _draining = true;
            long now = _time.GetTimestamp();
            foreach (var peer in _peers.Values)
            {
                peer.RetryDue = UserTable.NoDeadline;
                if (TryStartLocked(peer, now, regular: false) is { } started)
                {
                    sends.AddRange(started);
                }
            }

            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_running == 0 && sends.Count == 0)
            {
                _drained.TrySetResult();
            }

            drained = _drained.Task;
        }

        Send(sends);
        try
        {
            await drained.WaitAsync(timeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.OutboundFailed(_logger, new TimeoutException($"Sends still in flight after the shutdown timeout ({timeout}) are abandoned."));
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        await _timer.DisposeAsync().ConfigureAwait(false);
    }

    private Peer GetPeerLocked(ServerName destination)
    {
        if (!_peers.TryGetValue(destination, out var peer))
        {
            peer = new Peer(destination, Phase(_origin, destination, _grid));
            _peers.Add(destination, peer);
        }

        return peer;
    }

    private void AddPushesLocked(Peer peer, IReadOnlyList<PresenceSnapshot> push)
    {
        foreach (var snapshot in push)
        {
            AddPushLocked(peer, snapshot);
        }
    }

    private void AddPushLocked(Peer peer, PresenceSnapshot snapshot)
    {
        int at = peer.Pending.IndexOf(snapshot.User); // one lookup; the position then reads and writes in place
        if (at >= 0)
        {
            if (peer.Pending.GetAt(at).Value.Sequence <= snapshot.Sequence)
            {
                peer.Pending.SetAt(at, snapshot); // the newer state takes the older one's first-queued place
            }

            return; // an older state arriving late (another thread) never replaces a newer one
        }

        peer.Pending.Add(snapshot.User, snapshot);
        _queuedEntries++;
    }

    /// <summary>A poll cancels a queued unpoll of the same user and the reverse; otherwise it is queued once.</summary>
    private void AddPollLocked(Peer peer, UserId user, bool poll)
    {
        var (add, opposite) = poll ? (peer.Polls, peer.Unpolls) : (peer.Unpolls, peer.Polls);
        if (opposite.Remove(user))
        {
            _queuedEntries--;
        }
        else if (add.Add(user))
        {
            _queuedEntries++;
        }
    }

    /// <summary>
    /// Queues a list request or answer: one per (observer, observed) pair, the latest word winning, so a peer repeating a
    /// request keeps memory flat; bounded per destination.
    /// </summary>
    private void AddListLocked(Peer peer, PresenceListRequest request, bool front)
    {
        var key = (request.Observer, request.Observed);
        int at = peer.Lists.IndexOf(key);
        if (at >= 0)
        {
            if (!front)
            {
                peer.Lists.SetAt(at, request);
            }

            return; // requeued after a failure: a newer word for the pair already waits
        }

        if (peer.Lists.Count >= MaxQueuedListRequestsPerPeer)
        {
            _metrics.OutboundDropped.Add(1, new KeyValuePair<string, object?>("reason", "list_queue_cap"));
            return;
        }

        if (front)
        {
            peer.Lists.Insert(0, key, request);
        }
        else
        {
            peer.Lists.Add(key, request);
        }

        _queuedEntries++;
    }

    private void ClearLocked(Peer peer)
    {
        _queuedEntries -= peer.Pending.Count + peer.Polls.Count + peer.Unpolls.Count + peer.Lists.Count;
        bool large = peer.Pending.Count > 64 || peer.Lists.Count > 64 || peer.Polls.Count > 64;
        peer.Pending.Clear();
        peer.Polls.Clear();
        peer.Unpolls.Clear();
        peer.Lists.Clear();
        if (large)
        {
            peer.Pending.TrimExcess(); // a burst does not pin its peak capacity for every destination
            peer.Polls.TrimExcess();
            peer.Unpolls.TrimExcess();
            peer.Lists.TrimExcess();
        }

        peer.Reminder = false;
        peer.Urgent = false;
        peer.OwedBy = UserTable.NoDeadline;
    }

    /// <summary>
    /// The deadline of a prompt change queued now: the latest point of the destination's grid (half a window apart, at its
    /// own phase) within a window from now, and never within a window of its last own send.
    /// </summary>
    private long PromptDue(Peer peer, long now)
    {
        long due = LatestSlot(peer, now + _window);
        return peer.LastFlush == UserTable.NoTime ? due : Math.Max(due, peer.LastFlush + _window);
    }

    /// <summary>The deadline of a lazy change queued now: the latest grid point within the lazy window.</summary>
    private long LazyDue(Peer peer, long now) => Math.Max(LatestSlot(peer, now + _lazyWindow), PromptDue(peer, now));

    private long LatestSlot(Peer peer, long atOrBefore)
    {
        long k = Math.DivRem(atOrBefore - peer.Phase, _grid, out long remainder);
        if (remainder < 0)
        {
            k--;
        }

        return peer.Phase + (k * _grid);
    }

    /// <summary>Something is owed to the destination by <paramref name="due"/>: its send is scheduled then unless earlier.</summary>
    private void OweLocked(Peer peer, long due)
    {
        if (due < peer.OwedBy)
        {
            peer.OwedBy = due;
        }

        ScheduleLocked(peer, peer.OwedBy);
    }

    private void ScheduleLocked(Peer peer, long due)
    {
        if (peer.InFlight || peer.RetryDue != UserTable.NoDeadline)
        {
            return; // the end of the send in flight, or the retry, schedules what comes next
        }

        if (due < peer.ScheduledDue)
        {
            peer.ScheduledDue = due;
            _due.Enqueue(peer, due);
        }
    }

    private void ArmLocked(long now)
    {
        if (_disposed || !_due.TryPeek(out _, out long due))
        {
            return;
        }

        if (due < _armedDue)
        {
            _armedDue = due;
            _timer.Change(_timeBase.ToTimeSpan(Math.Max(1, due - now)), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        var sends = new List<(Peer, List<PresenceMessage>)>();
        var expired = new List<Batch>();
        try
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                long now = _time.GetTimestamp();
                _armedDue = UserTable.NoDeadline;
                try
                {
                    while (_due.TryPeek(out var peer, out long due) && due <= now)
                    {
                        _due.Dequeue();
                        if (peer.ScheduledDue != due)
                        {
                            continue; // superseded
                        }

                        peer.ScheduledDue = UserTable.NoDeadline;
                        if (peer.Batch is { } batch)
                        {
                            if (peer.BatchDue <= now)
                            {
                                expired.Add(batch); // the host took it and never said: failed (outside the lock)
                            }

                            continue;
                        }

                        if (peer.RetryDue != UserTable.NoDeadline && peer.RetryDue <= now)
                        {
                            peer.RetryDue = UserTable.NoDeadline;
                        }

                        if (TryStartLocked(peer, now, regular: true) is { } started)
                        {
                            sends.AddRange(started);
                        }
                    }
                }
                finally
                {
                    ArmLocked(now);
                }
            }
        }
        catch (Exception ex)
        {
            Log.OutboundFailed(_logger, ex);
        }

        foreach (var batch in expired)
        {
            batch.Expire();
        }

        Send(sends);
    }

    /// <summary>
    /// Takes the destination's batch, split into messages, unless a send is in flight or a retry is pending. Only a
    /// send at a deadline counts for "once per window"; an immediate answer or reminder does not delay the next.
    /// </summary>
    private List<(Peer, List<PresenceMessage>)>? TryStartLocked(Peer peer, long now, bool regular)
    {
        if (peer.InFlight || peer.RetryDue != UserTable.NoDeadline || !peer.HasWork || (_disposed && !_draining))
        {
            return null;
        }

        var messages = BuildMessagesLocked(peer);
        StartLocked(peer);
        if (regular)
        {
            peer.LastFlush = now;
        }

        return [(peer, messages)];
    }

    private void StartLocked(Peer peer)
    {
        ClearLocked(peer);
        peer.ScheduledDue = UserTable.NoDeadline; // queued entries for the peer are stale now
        peer.InFlight = true;
        _running++;
    }

    /// <summary>
    /// Splits everything owed to the destination into messages within the receiver's limits: at most
    /// <c>MaxEntriesPerMessage</c> entries of every kind together, at most <see cref="MaxListRequestsPerMessage"/> list
    /// requests; each message carries the next ordering key.
    /// </summary>
    private List<PresenceMessage> BuildMessagesLocked(Peer peer)
    {
        var messages = new List<PresenceMessage>();
        var push = peer.Pending.Values.ToArray();
        var polls = peer.Polls.ToArray();
        var unpolls = peer.Unpolls.ToArray();
        var lists = peer.Lists.Values.ToArray();
        int p = 0, q = 0, u = 0, l = 0;
        do
        {
            int room = _maxEntries;
            var pushChunk = Chunk(push, ref p, ref room, int.MaxValue);
            var pollChunk = Chunk(polls, ref q, ref room, int.MaxValue);
            var unpollChunk = Chunk(unpolls, ref u, ref room, int.MaxValue);
            var listChunk = Chunk(lists, ref l, ref room, MaxListRequestsPerMessage);
            bool reminder = messages.Count == 0 && peer.Reminder;
            messages.Add(new PresenceMessage(pushChunk, pollChunk, unpollChunk, reminder, reminder ? _promiseLifetime : null, listChunk) { Sequence = NextSequenceLocked() });
        }
        while (p < push.Length || q < polls.Length || u < unpolls.Length || l < lists.Length);

        return messages;
    }

    private static T[]? Chunk<T>(T[] all, ref int offset, ref int room, int most)
    {
        int count = Math.Min(Math.Min(room, most), all.Length - offset);
        if (count <= 0)
        {
            return null;
        }

        var chunk = all.AsSpan(offset, count).ToArray();
        offset += count;
        room -= count;
        return chunk;
    }

    /// <summary>
    /// The next ordering key: strictly increasing, and never below the wall clock in microseconds-per-millisecond units, so
    /// keys after a restart are above those before it (unless the clock went back).
    /// </summary>
    private long NextSequenceLocked()
    {
        long floor = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
        _sequence = Math.Max(_sequence + 1, floor);
        return _sequence;
    }

    private void Send(List<(Peer Peer, List<PresenceMessage> Messages)>? sends)
    {
        if (sends is null)
        {
            return;
        }

        foreach (var (peer, messages) in sends)
        {
            _ = SendAsync(peer, messages);
        }
    }

    private async Task SendAsync(Peer peer, List<PresenceMessage> messages)
    {
        int sent = 0;
        Exception? failure = null;
        try
        {
            for (; sent < messages.Count; sent++)
            {
                await SendOneAsync(peer.Name, messages[sent]).ConfigureAwait(false);
                _metrics.OutboundMessages.Add(1);
                _metrics.OutboundEntries.Add(messages[sent].EntryCount);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        Ended(peer, messages, sent, failure);
    }

    /// <summary>
    /// One send, bounded by the send timeout: past it the send is cancelled through its token and given a further timeout
    /// to end, so an abandoned send does not land after the retry that carries a newer state (the receiver's ordering key
    /// guards the rest), and a destination has one send in flight.
    /// </summary>
    private async Task SendOneAsync(ServerName destination, PresenceMessage message)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        var send = _transport.SendAsync(destination, message, cancel.Token).AsTask();
        try
        {
            await send.WaitAsync(_sendTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            try
            {
                await send.WaitAsync(_sendTimeout, _time).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Cancelled, failed or still hanging: the send counts as failed either way.
            }

            throw;
        }
    }

    /// <summary>A send or a taken batch ended: requeue what did not arrive, schedule the retry or what came meanwhile.</summary>
    private void Ended(Peer peer, List<PresenceMessage> messages, int sent, Exception? failure)
    {
        List<(Peer, List<PresenceMessage>)>? next = null;
        TaskCompletionSource? idle = null;
        bool gaveUp = false;
        bool back = false;
        int dropped = 0;
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            peer.InFlight = false;
            peer.Batch = null;
            peer.ScheduledDue = UserTable.NoDeadline;
            _running--;
            if (failure is null)
            {
                peer.Failures = 0;
                peer.FirstFailure = UserTable.NoTime;
                back = peer.GaveUp; // a send got through after the queue was dropped: what was dropped is owed again
                peer.GaveUp = false;
            }
            else
            {
                RequeueLocked(peer, messages, sent);
                peer.Failures++;
                if (peer.FirstFailure == UserTable.NoTime)
                {
                    peer.FirstFailure = now;
                }

                if (now - peer.FirstFailure >= _horizon || _disposed || _draining)
                {
                    dropped = peer.Pending.Count;
                    ClearLocked(peer);
                    peer.Failures = 0;
                    peer.FirstFailure = UserTable.NoTime;
                    gaveUp = !_disposed && !_draining;
                    peer.GaveUp = gaveUp;
                }
                else
                {
                    // The last retry happens at the horizon itself; if it fails too, the queue is dropped.
                    peer.RetryDue = Math.Min(now + Backoff(peer), peer.FirstFailure + _horizon);
                    peer.ScheduledDue = peer.RetryDue;
                    _due.Enqueue(peer, peer.RetryDue);
                }
            }

            if ((!_disposed || _draining) && peer.RetryDue == UserTable.NoDeadline && peer.HasWork)
            {
                bool urgent = peer.Urgent || _draining || peer.OwedBy <= now;
                if (urgent)
                {
                    next = TryStartLocked(peer, now, regular: !peer.Urgent && !_draining);
                }
                else
                {
                    ScheduleLocked(peer, peer.OwedBy);
                }
            }

            if (_running == 0)
            {
                _drained?.TrySetResult();
                idle = _noneInFlight; // completed last, once this send's metrics are counted
                _noneInFlight = null;
            }

            ArmLocked(now);
        }

        if (failure is not null)
        {
            _metrics.OutboundFailures.Add(1);
            if (gaveUp)
            {
                _metrics.OutboundDropped.Add(dropped);
                Log.PeerGaveUp(_logger, peer.Name.Value, dropped, failure);
                _onGiveUp(peer.Name);
            }
            else if (!_disposed)
            {
                Log.SendFailed(_logger, peer.Name.Value, peer.Failures, failure);
            }
        }

        Send(next);
        if (back)
        {
            _onBack?.Invoke(peer.Name);
        }

        idle?.TrySetResult();
    }

    /// <summary>
    /// Puts what was not sent back in front of what was queued since. A user queued again since keeps the newer
    /// state, at the newer position; polls and unpolls yield to newer opposite deltas; list words to newer ones.
    /// </summary>
    private void RequeueLocked(Peer peer, List<PresenceMessage> messages, int firstUnsent)
    {
        var newer = peer.Pending;
        var merged = new OrderedDictionary<UserId, PresenceSnapshot>();
        for (int i = firstUnsent; i < messages.Count; i++)
        {
            var message = messages[i];
            foreach (var snapshot in message.Push)
            {
                if (!newer.ContainsKey(snapshot.User))
                {
                    merged[snapshot.User] = snapshot;
                }
            }

            foreach (var user in message.Poll)
            {
                if (!peer.Unpolls.Contains(user) && peer.Polls.Add(user))
                {
                    _queuedEntries++;
                }
            }

            foreach (var user in message.Unpoll)
            {
                if (!peer.Polls.Contains(user) && peer.Unpolls.Add(user))
                {
                    _queuedEntries++;
                }
            }

            for (int r = message.ListRequests.Count - 1; r >= 0; r--)
            {
                AddListLocked(peer, message.ListRequests[r], front: true);
            }

            peer.Reminder |= message.IsReminder;
            peer.Urgent |= message.IsReminder || message.Poll.Count > 0 || message.Unpoll.Count > 0 || message.ListRequests.Count > 0;
        }

        foreach (var (user, snapshot) in newer)
        {
            merged[user] = snapshot;
        }

        _queuedEntries += merged.Count - newer.Count;
        peer.Pending = merged;
        peer.OwedBy = Math.Min(peer.OwedBy, _time.GetTimestamp()); // overdue: it goes with the retry
    }

    /// <summary>Exponential backoff capped at the maximum, with up to 20 % jitter derived from the destination and attempt (deterministic).</summary>
    private long Backoff(Peer peer)
    {
        long delay = _retryInitial;
        for (int i = 1; i < peer.Failures && delay < _retryMax; i++)
        {
            delay *= 2; // saturates at the maximum long before it could overflow
        }

        delay = Math.Min(delay, _retryMax);
        uint mix = (uint)(peer.Phase ^ (peer.Failures * 0x9E3779B9L));
        mix ^= mix >> 16;
        mix *= 0x45D9F3B;
        mix ^= mix >> 16;
        return delay + (long)(delay * 0.2 * (mix / (double)uint.MaxValue));
    }

    /// <summary>
    /// A stable phase in [0, period) for the pair (origin, destination) — FNV-1a over both names, then a murmur3 finalizer
    /// so names that differ in one character land far apart — the same on every run and every machine. Each origin sends
    /// to a destination at its own phase, so not every server sends to one destination at the same instant.
    /// </summary>
    internal static long Phase(ServerName origin, ServerName destination, long period)
    {
        uint hash = 2166136261;
        foreach (char c in origin.Value)
        {
            hash = (hash ^ c) * 16777619;
        }

        hash = (hash ^ '>') * 16777619;
        foreach (char c in destination.Value)
        {
            hash = (hash ^ c) * 16777619;
        }

        hash ^= hash >> 16;
        hash *= 0x85EBCA6B;
        hash ^= hash >> 13;
        hash *= 0xC2B2AE35;
        hash ^= hash >> 16;
        return (long)(((UInt128)hash * (ulong)period) >> 32);
    }

    /// <summary>A batch the host took for its own transaction; its outcome ends the send like a transport send's.</summary>
    private sealed class Batch(OutboundScheduler owner, Peer peer, List<PresenceMessage> messages) : PresenceOutboxBatch(peer.Name, messages)
    {
        private int _expired;

        public void Expire()
        {
            if (Interlocked.Exchange(ref _expired, 1) == 0)
            {
                Fail();
            }
        }

        protected override void CompleteCore()
        {
            foreach (var message in messages)
            {
                owner._metrics.OutboundEntries.Add(message.EntryCount);
            }

            owner.Ended(peer, messages, messages.Count, null);
        }

        protected override void FailCore() => owner.Ended(peer, messages, 0, new InvalidOperationException($"The host's transaction to {peer.Name} did not arrive (or was not reported in time)."));
    }

    private sealed class Peer(ServerName name, long phase)
    {
        public ServerName Name { get; } = name;

        public long Phase { get; } = phase;

        /// <summary>The peer speaks this protocol (it sent an ordering key): no derivable changes go to it.</summary>
        public bool Protocol { get; set; }

        public OrderedDictionary<UserId, PresenceSnapshot> Pending { get; set; } = [];

        public HashSet<UserId> Polls { get; } = [];

        public HashSet<UserId> Unpolls { get; } = [];

        public OrderedDictionary<(UserId Observer, UserId Observed), PresenceListRequest> Lists { get; } = [];

        public bool Reminder { get; set; }

        /// <summary>Gets a value indicating whether anything is queued for the destination.</summary>
        public bool HasWork => Pending.Count > 0 || Polls.Count > 0 || Unpolls.Count > 0 || Lists.Count > 0 || Reminder;

        /// <summary>An answer, reminder or subscription change is waiting: send as soon as possible, not at a deadline.</summary>
        public bool Urgent { get; set; }

        /// <summary>The earliest deadline of what is queued (prompt or lazy), or <see cref="UserTable.NoDeadline"/>.</summary>
        public long OwedBy { get; set; } = UserTable.NoDeadline;

        public bool InFlight { get; set; }

        /// <summary>The batch the host took and has not ended yet.</summary>
        public Batch? Batch { get; set; }

        /// <summary>When <see cref="Batch"/> counts as failed if the host has not ended it.</summary>
        public long BatchDue { get; set; }

        public long LastFlush { get; set; } = UserTable.NoTime;

        public long ScheduledDue { get; set; } = UserTable.NoDeadline;

        public long RetryDue { get; set; } = UserTable.NoDeadline;

        public int Failures { get; set; }

        public long FirstFailure { get; set; } = UserTable.NoTime;

        /// <summary>Its queue was dropped at the failure horizon: when it is next heard from, it is owed what it may see.</summary>
        public bool GaveUp { get; set; }
    }
}
