using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Presence.Internal;

/// <summary>
/// The engine's shell around the deterministic cores: the local-presence shards (<see cref="Shard"/>, one lock each),
/// the interest state (rooms, lists, subscriptions, peers; under <see cref="_lock"/>), the clock, one timer for every
/// deadline and write-behind persistence. Lock order: <see cref="_lock"/> before a shard's gate, never the reverse; a
/// device signal takes only its shard's gate. Calls into the host (membership view, store, transport) happen outside
/// every lock.
/// </summary>
internal sealed partial class DefaultPresenceEngine : IPresenceEngine, IShardOwner
{
    private const int Running = 1;
    private const int Disposed = 2;

    private readonly Lock _lock = new();
    private readonly PresenceOptions _options;
    private readonly ServerName _server;
    private readonly IMembershipView _membership;
    private readonly IPresenceStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PresenceInstruments _metrics;
    private readonly Shard[] _shards;
    private readonly ITimer _timer;
    private readonly Lock _timerLock = new();
    /// <summary>Wakes the write-behind loop; the users to save wait in their shard's <see cref="Shard.Dirty"/> list.</summary>
    private readonly Channel<bool> _dirtyWake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _saveDeadline;

    private int _state;
    private Task? _startTask;
    private Task _writer = Task.CompletedTask;
    /// <summary>The longest a single timer arming may be; longer deadlines re-arm (system timers reject more than ~49 days).</summary>
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(1);

    /// <summary>The shortest arming of the timer (see <see cref="RequestWake"/>).</summary>
    private static readonly TimeSpan MinimumTimerDelay = TimeSpan.FromTicks(1);

    private readonly TimeBase _timeBase;
    private readonly long _maxTimerDelayTicks;
    private long _armedDue = UserTable.NoDeadline;
    private long _lastNow = long.MinValue;

    public DefaultPresenceEngine(
        PresenceOptions options,
        IMembershipView membership,
        IPresenceStore store,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory,
        IPresenceTransport? transport,
        IPresenceListStore listStore,
        IPeerSubscriptionStore? peerStore = null)
    {
        _listStore = listStore;
        _peerStore = peerStore ?? new InMemoryPeerSubscriptionStore();
        _options = options;
        _server = options.ServerName;
        _membership = membership;
        _store = store;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger("Presence.Core");
        _timeBase = new TimeBase(timeProvider);
        _maxTimerDelayTicks = _timeBase.ToTicks(MaxTimerDelay);
        int shardCount = options.ShardCount > 0 ? options.ShardCount : DefaultShardCount();
        _shards = new Shard[shardCount];
        for (int i = 0; i < shardCount; i++)
        {
            _shards[i] = new Shard(i, options, _timeBase, this);
        }

        _stream = new PresenceStream(shardCount, options.StreamRetention, BitConverter.ToInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)));
        _rooms = new RoomCache(_server, options.MembershipCacheCapacity, options.ExcludedRooms);
        _metrics = new PresenceInstruments(meterFactory, () => SumOverShards(static t => t.Heartbeats), () => (int)SumOverShards(static t => t.Count), () => (int)SumOverShards(static t => t.ConnectedDevices), () => _subscriptionCount, () => _outbound?.QueuedEntries ?? 0);
        _watchdogs = new WatchdogManager(_server, _timeBase.ToTicks(options.Federation.ShortWatchdog), _timeBase.ToTicks(options.Federation.LongWatchdog), _timeBase.ToTicks(options.Federation.SpecPeerRefreshInterval));
        _remoteStaleAfter = _timeBase.ToTicks(options.Federation.RemoteStaleAfter);
        if (transport is not null)
        {
            _outbound = new OutboundScheduler(_server, options.Federation, transport, timeProvider, _timeBase, _logger, _metrics, OnPeerGaveUp, _stopping.Token, OnPeerBack);
        }

        _timer = timeProvider.CreateTimer(static state => ((DefaultPresenceEngine)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _saveDeadline = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
    }

    public ValueTask StartAsync(CancellationToken cancellationToken = default)
    {
        Task start;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_state == Disposed, this);
            if (_state == Running)
            {
                return ValueTask.CompletedTask;
            }

            if (_startTask is null || _startTask.IsFaulted || _startTask.IsCanceled)
            {
                _startTask = StartCoreAsync(cancellationToken); // a failed start may be retried
            }

            start = _startTask;
        }

        return new ValueTask(start);
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        await Task.Yield(); // the stores are host code: never call them under the lock
        var relations = new List<PresenceListEntry>();
        List<PeerSubscription> peerSubscriptions;
        try
        {
            // Presence records are read per user when needed (LoadUsersAsync); only presence lists, which are user data the
            // may-see rule consults for users not in memory, are read at start.
            await foreach (var entry in _listStore.LoadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                relations.Add(entry);
            }

            peerSubscriptions = await LoadPeerSubscriptionsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StoreLoadFailed(_logger, ex);
            _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "load"));
            throw;
        }

        int loaded = relations.Count;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_state == Disposed, this);
            foreach (var entry in relations)
            {
                if (entry.Observer.IsOn(_server) || entry.Observed.IsOn(_server))
                {
                    SetRelationLocked(entry.Observer, entry.Observed, entry.State);
                    if (entry.State == PresenceListState.Pending && !entry.Observer.IsOn(_server))
                    {
                        AdjustPendingInvites(entry.Observer.Server, +1);
                    }
                }
                else
                {
                    Reject("stored_foreign_user", "the list store returned a relation between two users of other servers");
                }
            }

            RestorePeerSubscriptionsLocked(peerSubscriptions, Now());
            _state = Running;
            _writer = WriteBehindAsync();
            _loader = LoadLoopAsync();
        }

        // Users on someone's presence list are read now: GetPresenceList answers synchronously from memory.
        await EnsureLoadedAsync(relations.Select(static entry => entry.Observed).Distinct(), cancellationToken).ConfigureAwait(false);
        Log.EngineStarted(_logger, _server.Value, loaded);
    }

    public async ValueTask DisposeAsync()
    {
        List<Subscription> subscriptions;
        lock (_lock)
        {
            if (_state == Disposed)
            {
                return;
            }

            _state = Disposed;
            subscriptions = [.. _subscribers.Values.SelectMany(static list => list)];
            _subscribers.Clear();
            _subscriptionCount = 0;
            CompleteStreamWaitersLocked();
        }

        await _timer.DisposeAsync().ConfigureAwait(false);
        if (_outbound is not null)
        {
            // What waits in the batch or lazy window goes now; bounded, and before the engine's token cancels sends.
            await _outbound.DrainAsync(_options.ShutdownTimeout).ConfigureAwait(false);
            await _outbound.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Close();
        }

        // Records being read are merged first, so what their users did meanwhile is saved with the rest.
        _loadWake.Writer.TryComplete();
        try
        {
            await _loader.WaitAsync(_options.ShutdownTimeout, _time).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StoreLoadFailed(_logger, ex);
        }

        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                shard.Table.MarkUnsavedLastActive(shard.Now(_time)); // last-active that moved within the granularity is saved too
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _saveDeadline.CancelAfter(_options.ShutdownTimeout);
        _dirtyWake.Writer.TryComplete();
        try
        {
            // Bounded even if the store ignores its token.
            await _writer.WaitAsync(_options.ShutdownTimeout + _options.ShutdownTimeout, _time).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StoreSaveAbandoned(_logger, 0, ex);
        }

        _metrics.Dispose();
        _stopping.Dispose();
        _saveDeadline.Dispose();
        Log.EngineStopped(_logger);
    }

    /// <summary>
    /// The current engine time (<see cref="TimeBase"/> ticks), never earlier than a time already used. Lock held.
    /// Monotonic, so a wall-clock step (NTP, an operator) neither freezes deadlines nor fires them all at once.
    /// </summary>
    private long Now()
    {
        long now = _time.GetTimestamp();
        if (now < _lastNow)
        {
            return _lastNow;
        }

        _lastNow = now;
        return now;
    }

    private void ThrowIfNotRunning()
    {
        if (_state != Running)
        {
            ObjectDisposedException.ThrowIf(_state == Disposed, this);
            throw new PresenceException(PresenceErrorCodes.Unknown, "The presence engine has not been started; await StartAsync() first.");
        }
    }

    /// <summary>After an input, under the lock: deliver what the shards published, re-arm the timer, and take what must run after the lock.</summary>
    private Followups AfterChangeLocked(long now)
    {
        DeliverPublishedLocked();
        RequestWake(_watchdogs.NextDeadline, now);
        var sends = _deferredSends;
        _deferredSends = null;
        return new Followups(TakeMembershipMissesLocked(), sends);
    }

    /// <summary>Work decided under the lock that calls out of the engine: membership lookups and sends to other servers.</summary>
    private readonly record struct Followups(List<UserId>? Misses, List<DeferredSend>? Sends);

    /// <summary>A message decided under the lock, handed to the scheduler after it.</summary>
    private readonly record struct DeferredSend(ServerName To, PresenceSnapshot[] Push, UserId[] Poll, UserId[] Unpoll, PresenceListRequest[]? Lists);

    private static int DefaultShardCount() => Math.Clamp(Environment.ProcessorCount * 8, 1, PresenceOptions.MaxShardCount);

    private long SumOverShards(Func<UserTable, long> read)
    {
        long sum = 0;
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                sum += read(shard.Table);
            }
        }

        return sum;
    }

    /// <summary>The shard that owns <paramref name="user"/>, by the user ID's stable hash.</summary>
    /// <summary>The gate of <paramref name="user"/>'s shard; for tests that hold it to provoke lock-order races.</summary>
    internal Lock GateOfForTest(UserId user) => ShardOf(user).Gate;

    private Shard ShardOf(UserId user) => _shards[StableHash.ShardOf(StableHash.Of(user), _shards.Length)];

    private Shard ShardOf(UserId user, out int hash)
    {
        hash = StableHash.Of(user);
        return _shards[StableHash.ShardOf(hash, _shards.Length)];
    }

    /// <summary>
    /// Runs one input against a user's shard: the gate is held only for the table's decision; what it published is
    /// delivered after, under the interest lock, and the timer re-armed if a deadline came earlier.
    /// </summary>
    private void OnShard<TState>(UserId user, TState state, Action<UserTable, UserId, TState, long> input)
    {
        var shard = ShardOf(user);
        long next;
        lock (shard.Gate)
        {
            ThrowIfNotRunning();
            long now = shard.Now(_time);
            input(shard.Table, user, state, now);
            next = shard.Table.NextDeadline;
        }

        AfterShardInput(shard, next);
    }

    private void AfterShardInput(Shard shard, long next)
    {
        RequestWake(next, long.MinValue);
        if (shard.HasWork)
        {
            WithLock(static _ => { });
        }
    }

    /// <summary>Arms the one timer when <paramref name="due"/> is earlier than what it is armed for. Any thread, no lock needed.</summary>
    private void RequestWake(long due, long now)
    {
        if (due >= Volatile.Read(ref _armedDue))
        {
            return;
        }

        lock (_timerLock)
        {
            if (_state == Disposed)
            {
                return;
            }

            if (now == long.MinValue)
            {
                now = _time.GetTimestamp();
            }

            due = Math.Min(due, now + _maxTimerDelayTicks);
            if (due < _armedDue)
            {
                _armedDue = due;

                // Never zero: a TimeProvider may run a zero-due callback inside Change, on this thread and under the
                // caller's locks; one tick later is as good and always runs on the timer's own turn.
                _timer.Change(MinimumTimerDelay > _timeBase.ToTimeSpan(due - now) ? MinimumTimerDelay : _timeBase.ToTimeSpan(due - now), Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Delivers, in publication order, everything the shards published since the last drain. Lock held.</summary>
    private void DeliverPublishedLocked()
    {
        DeliverQueuedLocked();
        EvictIdleLocked();
    }

    private void DeliverQueuedLocked()
    {
        foreach (var shard in _shards)
        {
            if (!shard.HasWork)
            {
                continue;
            }

            List<PresenceSnapshot> published;
            lock (shard.Gate)
            {
                published = shard.TakePublished();
            }

            int partition = _stream.PartitionOfShard(shard.Id);
            foreach (var snapshot in published)
            {
                try
                {
                    _metrics.Publications.Add(1);
                    _stream.Append(partition, snapshot); // a position first: whoever is woken below reads it
                    DeliverLocked(snapshot);
                }
                catch (Exception ex)
                {
                    // A failing listener or subscriber must not stop the others or the timer.
                    Log.DeliveryFailed(_logger, ex);
                }
            }
        }
    }

    /// <summary>
    /// Whether the current thread holds any of the engine's locks. A <see cref="TimeProvider"/> may run due timer callbacks
    /// inside a call that reads the time or arms a timer (FakeTimeProvider does, on <c>GetTimestamp</c>), so a callback can
    /// find itself on a thread that holds a shard gate or the interest lock; taking more locks there would break the lock
    /// order. Such a callback hands its work to the thread pool instead (<see cref="RunOutsideLocks"/>).
    /// </summary>
    internal bool HoldsAnyLock()
    {
        if (_lock.IsHeldByCurrentThread || _timerLock.IsHeldByCurrentThread || _loadsLock.IsHeldByCurrentThread)
        {
            return true;
        }

        foreach (var shard in _shards)
        {
            if (shard.Gate.IsHeldByCurrentThread)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Runs a timer's work now, or on the thread pool when the callback was invoked under one of the engine's locks.</summary>
    /// <returns><see langword="true"/> when the work was handed to the thread pool (the caller returns).</returns>
    internal bool RunOutsideLocks<TState>(Action<TState> work, TState state)
    {
        if (!HoldsAnyLock())
        {
            return false;
        }

        ThreadPool.UnsafeQueueUserWorkItem(work, state, preferLocal: false);
        return true;
    }

    private void OnTimer()
    {
        if (RunOutsideLocks(static engine => engine.OnTimer(), this))
        {
            return;
        }

        try
        {
            lock (_timerLock)
            {
                _armedDue = UserTable.NoDeadline;
            }

            long earliest = UserTable.NoDeadline;
            foreach (var shard in _shards)
            {
                lock (shard.Gate)
                {
                    if (_state != Running)
                    {
                        return;
                    }

                    try
                    {
                        shard.Table.Expire(shard.Now(_time));
                    }
                    finally
                    {
                        earliest = Math.Min(earliest, shard.Table.NextDeadline); // re-armed even if something above failed
                    }
                }
            }

            RequestWake(earliest, long.MinValue);
            Followups misses;
            List<(ServerName, List<PresenceSnapshot>, List<UserId>, bool)>? reminders;
            lock (_lock)
            {
                if (_state != Running)
                {
                    return;
                }

                long now = Now();
                try
                {
                    ExpireWatchdogsLocked(now);
                }
                finally
                {
                    misses = AfterChangeLocked(now);
                    reminders = _reminders;
                    _reminders = null;
                }
            }

            SendReminders(reminders);
            RunFollowups(misses); // also pumps the outbound channel
        }
        catch (Exception ex)
        {
            Log.TimerCallbackFailed(_logger, ex);
        }
    }

    void IShardOwner.OnDirty(UserId user) => _dirtyWake.Writer.TryWrite(true); // the shard listed the user

    bool IShardOwner.TryLoadNow(UserId user, out PresenceRecord? record)
    {
        if (_store is IInstantPresenceStore instant)
        {
            record = instant.Find(user); // our own in-memory store: no I/O, no host code
            NoteVisibility(record);
            return true;
        }

        record = null;
        RequestLoad(user);
        return false;
    }

    void IShardOwner.OnDeviceDropped(DropReason reason)
    {
        string tag = reason switch
        {
            DropReason.SyncTimeout => "sync_timeout",
            DropReason.BusyTimeout => "busy_timeout",
            DropReason.Disconnect => "disconnect",
            _ => "device_cap",
        };
        _metrics.DevicesDropped.Add(1, new KeyValuePair<string, object?>("reason", tag));
        if (reason == DropReason.DeviceCap)
        {
            Log.DeviceCapReached(_logger, _options.MaxDevicesPerUser);
        }
    }

    private void Reject(string reason, string description)
    {
        _metrics.InputsRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
        Log.InputRejected(_logger, description);
    }
}
