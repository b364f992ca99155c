using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Presence.Internal;

/// <summary>
/// The batching path to other servers. Changes arrive through a channel (the engine never waits on a slow
/// transport); per destination only the latest state of each user is kept, in first-queued order, and each
/// destination is flushed at most once per window, at a phase of its own so a window's sends are spread out.
/// Failed sends are retried with exponential backoff and jitter while newer states keep replacing older ones;
/// a destination that keeps failing past the horizon has its queue dropped. One timer drives every destination.
/// </summary>
internal sealed class OutboundScheduler
{
    private readonly Lock _lock = new();
    private readonly Channel<(ServerName Destination, PresenceSnapshot Snapshot)> _changes =
        Channel.CreateUnbounded<(ServerName, PresenceSnapshot)>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Dictionary<ServerName, Peer> _peers = [];
    private readonly PriorityQueue<Peer, long> _due = new();
    private readonly IPresenceTransport _transport;
    private readonly TimeProvider _time;
    private readonly TimeBase _timeBase;
    private readonly ITimer _timer;
    private readonly ILogger _logger;
    private readonly PresenceInstruments _metrics;
    private readonly Action<ServerName> _onGiveUp;
    private readonly CancellationToken _stopping;
    private readonly long _window;
    private readonly long _retryInitial;
    private readonly long _retryMax;
    private readonly long _horizon;
    private readonly int _maxEntries;
    private readonly TimeSpan _sendTimeout;
    private readonly TimeSpan _promiseLifetime;
    private long _armedDue = UserTable.NoDeadline;
    private int _queuedEntries;
    private bool _disposed;

    public OutboundScheduler(
        PresenceFederationOptions options,
        IPresenceTransport transport,
        TimeProvider time,
        TimeBase timeBase,
        ILogger logger,
        PresenceInstruments metrics,
        Action<ServerName> onGiveUp,
        CancellationToken stopping)
    {
        _transport = transport;
        _time = time;
        _timeBase = timeBase;
        _logger = logger;
        _metrics = metrics;
        _onGiveUp = onGiveUp;
        _stopping = stopping;
        _window = timeBase.ToTicks(options.BatchWindow);
        _retryInitial = timeBase.ToTicks(options.RetryInitialDelay);
        _retryMax = timeBase.ToTicks(options.RetryMaxDelay);
        _horizon = timeBase.ToTicks(options.FailureHorizon);
        _maxEntries = options.MaxEntriesPerMessage;
        _sendTimeout = options.SendTimeout;
        _promiseLifetime = options.DefaultPromiseLifetime;
        _timer = time.CreateTimer(static state => ((OutboundScheduler)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Gets the number of queued push entries across destinations.</summary>
    public int QueuedEntries => Volatile.Read(ref _queuedEntries);

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

    /// <summary>Moves queued changes into their destinations' batches and arms flushes.</summary>
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
                AddPushLocked(peer, change.Snapshot);
                ScheduleFlushLocked(peer, now, immediately: false);
            }

            ArmLocked(now);
        }
    }

    /// <summary>
    /// Sends to a destination at once (or as soon as its send in flight completes): pushes, subscription deltas and
    /// the reminder marker merge with what is already queued for it.
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
            foreach (var snapshot in push)
            {
                AddPushLocked(peer, snapshot);
            }

            foreach (var user in poll)
            {
                if (!peer.Unpolls.Remove(user))
                {
                    peer.Polls.Add(user);
                }
            }

            foreach (var user in unpoll)
            {
                if (!peer.Polls.Remove(user))
                {
                    peer.Unpolls.Add(user);
                }
            }

            if (lists is not null)
            {
                peer.Lists.AddRange(lists);
            }

            peer.Reminder |= reminder;
            peer.Urgent = true; // remembered if a send is in flight: it goes as soon as that one completes
            long now = _time.GetTimestamp();
            sends = TryStartLocked(peer, now, regular: false);
            ArmLocked(now);
        }

        Send(sends);
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
            peer = new Peer(destination, Phase(destination, _window));
            _peers.Add(destination, peer);
        }

        return peer;
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

    private void ClearLocked(Peer peer)
    {
        _queuedEntries -= peer.Pending.Count;
        bool large = peer.Pending.Count > 64;
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
    }

    /// <summary>
    /// Schedules the destination's next flush: the next point of its phase grid (one per window) that is not
    /// earlier than a window after its last flush, or now when asked to.
    /// </summary>
    private void ScheduleFlushLocked(Peer peer, long now, bool immediately)
    {
        if (peer.InFlight || peer.RetryDue != UserTable.NoDeadline)
        {
            return; // the end of the send in flight, or the retry, schedules what comes next
        }

        long due = immediately ? now : NextSlot(peer, now);
        if (due < peer.ScheduledDue)
        {
            peer.ScheduledDue = due;
            _due.Enqueue(peer, due);
        }
    }

    private long NextSlot(Peer peer, long now)
    {
        long earliest = peer.LastFlush == UserTable.NoTime ? now : Math.Max(now, peer.LastFlush + _window);
        long k = (earliest - peer.Phase + _window - 1) / _window;
        long slot = peer.Phase + (k * _window);
        return slot < earliest ? slot + _window : slot;
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
            _timer.Change(_timeBase.ToTimeSpan(Math.Max(0, due - now)), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        var sends = new List<(Peer, List<PresenceMessage>)>();
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

        Send(sends);
    }

    /// <summary>
    /// Takes the destination's batch, split into messages, unless a send is in flight or a retry is pending. Only a
    /// regular (windowed) flush counts for "once per window"; an immediate answer or reminder does not delay the next.
    /// </summary>
    private List<(Peer, List<PresenceMessage>)>? TryStartLocked(Peer peer, long now, bool regular)
    {
        if (peer.InFlight || peer.RetryDue != UserTable.NoDeadline)
        {
            return null;
        }

        if (!peer.HasWork)
        {
            return null;
        }

        var messages = new List<PresenceMessage>();
        var pending = peer.Pending.Values.ToArray();
        var polls = peer.Polls.ToArray();
        var unpolls = peer.Unpolls.ToArray();
        var lists = peer.Lists.ToArray();
        int offset = 0;
        do
        {
            int count = Math.Min(_maxEntries, pending.Length - offset);
            var chunk = pending.AsSpan(offset, count).ToArray();
            bool first = offset == 0;
            bool reminder = first && peer.Reminder;
            messages.Add(new PresenceMessage(chunk, first ? polls : null, first ? unpolls : null, reminder, reminder ? _promiseLifetime : null, first ? lists : null));
            offset += count;
        }
        while (offset < pending.Length);

        ClearLocked(peer);
        peer.InFlight = true;
        if (regular)
        {
            peer.LastFlush = now;
        }

        return [(peer, messages)];
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
                // A peer that accepts and never answers must not hold the destination forever.
                await _transport.SendAsync(peer.Name, messages[sent], _stopping).AsTask().WaitAsync(_sendTimeout, _time, _stopping).ConfigureAwait(false);
                _metrics.OutboundMessages.Add(1);
                _metrics.OutboundEntries.Add(messages[sent].EntryCount);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        List<(Peer, List<PresenceMessage>)>? next = null;
        bool gaveUp = false;
        int dropped = 0;
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            peer.InFlight = false;
            if (failure is null)
            {
                peer.Failures = 0;
                peer.FirstFailure = UserTable.NoTime;
            }
            else
            {
                RequeueLocked(peer, messages, sent);
                peer.Failures++;
                if (peer.FirstFailure == UserTable.NoTime)
                {
                    peer.FirstFailure = now;
                }

                if (now - peer.FirstFailure >= _horizon || _disposed)
                {
                    dropped = peer.Pending.Count;
                    ClearLocked(peer);
                    peer.Failures = 0;
                    peer.FirstFailure = UserTable.NoTime;
                    gaveUp = !_disposed;
                }
                else
                {
                    // The last retry happens at the horizon itself; if it fails too, the queue is dropped.
                    peer.RetryDue = Math.Min(now + Backoff(peer), peer.FirstFailure + _horizon);
                    peer.ScheduledDue = peer.RetryDue;
                    _due.Enqueue(peer, peer.RetryDue);
                }
            }

            if (!_disposed && peer.RetryDue == UserTable.NoDeadline && peer.HasWork)
            {
                bool urgent = peer.Urgent;
                ScheduleFlushLocked(peer, now, immediately: urgent);
                if (peer.ScheduledDue <= now)
                {
                    peer.ScheduledDue = UserTable.NoDeadline;
                    next = TryStartLocked(peer, now, regular: !urgent);
                }
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
    }

    /// <summary>
    /// Puts what was not sent back in front of what was queued since. A user queued again since keeps the newer
    /// state, at the newer position; polls and unpolls yield to newer opposite deltas.
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
                if (!peer.Unpolls.Contains(user))
                {
                    peer.Polls.Add(user);
                }
            }

            foreach (var user in message.Unpoll)
            {
                if (!peer.Polls.Contains(user))
                {
                    peer.Unpolls.Add(user);
                }
            }

            peer.Lists.InsertRange(0, message.ListRequests);
            peer.Reminder |= message.IsReminder;
            peer.Urgent |= message.IsReminder || message.Poll.Count > 0 || message.Unpoll.Count > 0 || message.ListRequests.Count > 0;
        }

        foreach (var (user, snapshot) in newer)
        {
            merged[user] = snapshot;
        }

        _queuedEntries += merged.Count - newer.Count;
        peer.Pending = merged;
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
    /// A stable phase in [0, window) from the destination's name — FNV-1a, then a murmur3 finalizer so names that
    /// differ in one character land far apart — the same on every run and every machine.
    /// </summary>
    internal static long Phase(ServerName destination, long window)
    {
        uint hash = 2166136261;
        foreach (char c in destination.Value)
        {
            hash = (hash ^ c) * 16777619;
        }

        hash ^= hash >> 16;
        hash *= 0x85EBCA6B;
        hash ^= hash >> 13;
        hash *= 0xC2B2AE35;
        hash ^= hash >> 16;
        return (long)(((UInt128)hash * (ulong)window) >> 32);
    }

    private sealed class Peer(ServerName name, long phase)
    {
        public ServerName Name { get; } = name;

        public long Phase { get; } = phase;

        public OrderedDictionary<UserId, PresenceSnapshot> Pending { get; set; } = [];

        public HashSet<UserId> Polls { get; } = [];

        public HashSet<UserId> Unpolls { get; } = [];

        public List<PresenceListRequest> Lists { get; } = [];

        public bool Reminder { get; set; }

        /// <summary>Gets a value indicating whether anything is queued for the destination.</summary>
        public bool HasWork => Pending.Count > 0 || Polls.Count > 0 || Unpolls.Count > 0 || Lists.Count > 0 || Reminder;

        /// <summary>An answer, reminder or subscription change is waiting: send as soon as possible, not at the next slot.</summary>
        public bool Urgent { get; set; }

        public bool InFlight { get; set; }

        public long LastFlush { get; set; } = UserTable.NoTime;

        public long ScheduledDue { get; set; } = UserTable.NoDeadline;

        public long RetryDue { get; set; } = UserTable.NoDeadline;

        public int Failures { get; set; }

        public long FirstFailure { get; set; } = UserTable.NoTime;
    }
}
