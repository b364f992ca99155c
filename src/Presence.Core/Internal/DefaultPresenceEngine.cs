using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Presence.Internal;

/// <summary>
/// The engine's shell around the deterministic <see cref="UserTable"/>: one lock, the clock, one timer for
/// every deadline, local delivery, the membership cache and write-behind persistence. Decisions are made
/// under the lock; calls into the host (membership view, store) happen outside it.
/// </summary>
internal sealed partial class DefaultPresenceEngine : IPresenceEngine, IUserTableObserver
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
    private readonly UserTable _table;
    private readonly ITimer _timer;
    private readonly Channel<int> _dirty = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _saveDeadline;

    private int _state;
    private Task? _startTask;
    private Task _writer = Task.CompletedTask;
    /// <summary>The longest a single timer arming may be; longer deadlines re-arm (system timers reject more than ~49 days).</summary>
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(1);

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
        IPresenceListStore listStore)
    {
        _listStore = listStore;
        _options = options;
        _server = options.ServerName;
        _membership = membership;
        _store = store;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger("Presence.Core");
        _timeBase = new TimeBase(timeProvider);
        _maxTimerDelayTicks = _timeBase.ToTicks(MaxTimerDelay);
        _table = new UserTable(options, this, _timeBase);
        _coMembers = [];
        _metrics = new PresenceInstruments(meterFactory, () => _table.Heartbeats, () => _table.Count, () => _table.ConnectedDevices, () => _subscriptionCount, () => _outbound?.QueuedEntries ?? 0);
        _watchdogs = new WatchdogManager(_timeBase.ToTicks(options.Federation.ShortWatchdog), _timeBase.ToTicks(options.Federation.LongWatchdog));
        _remoteStaleAfter = _timeBase.ToTicks(options.Federation.RemoteStaleAfter);
        if (transport is not null)
        {
            _outbound = new OutboundScheduler(options.Federation, transport, timeProvider, _timeBase, _logger, _metrics, OnPeerGaveUp, _stopping.Token);
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
        await Task.Yield(); // the store is host code: never call it under the lock
        var records = new List<PresenceRecord>();
        var relations = new List<PresenceListEntry>();
        try
        {
            await foreach (var record in _store.LoadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                records.Add(record);
            }

            await foreach (var entry in _listStore.LoadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                relations.Add(entry);
            }
        }
        catch (Exception ex)
        {
            Log.StoreLoadFailed(_logger, ex);
            _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "load"));
            throw;
        }

        int loaded = 0;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_state == Disposed, this);
            long now = Now();
            foreach (var record in records)
            {
                if (record.User.IsOn(_server))
                {
                    _table.Load(record, now, _options.EnableBusy);
                    loaded++;
                }
                else
                {
                    Reject("stored_foreign_user", "the store returned a user of another server");
                }
            }

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

            _state = Running;
            _writer = WriteBehindAsync();
        }

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
            _table.MarkUnsavedLastActive(Now()); // last-active that moved within the granularity is saved too
            subscriptions = [.. _subscribers.Values.SelectMany(static list => list)];
            _subscribers.Clear();
            _subscriptionCount = 0;
        }

        await _timer.DisposeAsync().ConfigureAwait(false);
        if (_outbound is not null)
        {
            await _outbound.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Close();
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _saveDeadline.CancelAfter(_options.ShutdownTimeout);
        _dirty.Writer.TryComplete();
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
            throw new InvalidOperationException("The presence engine has not been started; await StartAsync() first.");
        }
    }

    /// <summary>After an input, under the lock: re-arm the timer if a deadline moved earlier, and take what must run after the lock.</summary>
    private Followups AfterChangeLocked(long now)
    {
        ArmTimerLocked(now);
        var sends = _deferredSends;
        _deferredSends = null;
        return new Followups(TakeMembershipMissesLocked(), sends);
    }

    /// <summary>Work decided under the lock that calls out of the engine: membership lookups and sends to other servers.</summary>
    private readonly record struct Followups(List<UserId>? Misses, List<DeferredSend>? Sends);

    /// <summary>A message decided under the lock, handed to the scheduler after it.</summary>
    private readonly record struct DeferredSend(ServerName To, PresenceSnapshot[] Push, UserId[] Poll, UserId[] Unpoll, PresenceListRequest[]? Lists);

    /// <summary>Arms the one timer for the earliest of every user and watchdog deadline. Lock held.</summary>
    private void ArmTimerLocked(long now)
    {
        long next = Math.Min(Math.Min(_table.NextDeadline, _watchdogs.NextDeadline), now + _maxTimerDelayTicks);
        if (next < _armedDue)
        {
            _armedDue = next;
            _timer.Change(_timeBase.ToTimeSpan(Math.Max(0, next - now)), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        try
        {
            Followups misses;
            List<(ServerName, List<PresenceSnapshot>, List<UserId>)>? reminders;
            lock (_lock)
            {
                if (_state != Running)
                {
                    return;
                }

                long now = Now();
                _armedDue = UserTable.NoDeadline;
                try
                {
                    _table.Expire(now);
                    ExpireWatchdogsLocked(now);
                }
                finally
                {
                    misses = AfterChangeLocked(now); // re-armed even if something above failed
                    reminders = _reminders;
                    _reminders = null;
                }
            }

            SendReminders(reminders);
            ResolveMembershipMisses(misses); // also pumps the outbound channel
        }
        catch (Exception ex)
        {
            Log.TimerCallbackFailed(_logger, ex);
        }
    }

    void IUserTableObserver.OnPublished(int index, PresenceSnapshot snapshot)
    {
        try
        {
            _metrics.Publications.Add(1);
            DeliverLocked(snapshot);
        }
        catch (Exception ex)
        {
            // A failing listener or subscriber must not leave the table half-updated or stop the timer.
            Log.DeliveryFailed(_logger, ex);
        }
    }

    void IUserTableObserver.OnDirty(int index) => _dirty.Writer.TryWrite(index);

    void IUserTableObserver.OnDeviceDropped(DropReason reason)
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
