namespace Presence.Testing;

/// <summary>
/// A clock that moves only when told. <see cref="Advance"/> fires due timers one at a time in due order (ties in
/// the order they were scheduled), setting the clock to each timer's due time while its callback runs, so code
/// under test sees exact times; the clock never goes back. Callbacks run on the caller's thread.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    /// <summary>The default start: 2026-01-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset DefaultStart = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(4294967294);
    private readonly Lock _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now;
    private long _sequence;

    /// <summary>Creates a clock at <paramref name="start"/>, or <see cref="DefaultStart"/>.</summary>
    /// <param name="start">The starting time.</param>
    public ManualTimeProvider(DateTimeOffset? start = null) => _now = start ?? DefaultStart;

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    /// <inheritdoc/>
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc/>
    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    /// <inheritdoc/>
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>Gets the number of timers waiting to fire.</summary>
    public int ActiveTimers
    {
        get
        {
            lock (_lock)
            {
                return _timers.Count(static t => t.Due is not null);
            }
        }
    }

    /// <summary>Moves the clock forward, firing every timer due up to the new time.</summary>
    /// <param name="delta">How far; zero fires timers already due.</param>
    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        DateTimeOffset target;
        lock (_lock)
        {
            target = _now + delta;
        }

        while (true)
        {
            ManualTimer? next = null;
            lock (_lock)
            {
                foreach (var timer in _timers)
                {
                    if (timer.Due is { } due && due <= target && (next is null || due < next.Due || (due == next.Due && timer.Order < next.Order)))
                    {
                        next = timer;
                    }
                }

                if (next is null)
                {
                    _now = target;
                    return;
                }

                if (next.Due > _now)
                {
                    _now = next.Due.Value;
                }

                next.Due = next.Period is { } period ? _now + period : null;
                next.Order = ++_sequence;
            }

            next.Fire();
        }
    }

    /// <summary>Moves the clock to <paramref name="value"/>, firing due timers.</summary>
    /// <param name="value">The new time; not earlier than now.</param>
    public void SetUtcNow(DateTimeOffset value)
    {
        var now = GetUtcNow();
        if (value < now)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "The clock never goes back.");
        }

        Advance(value - now);
    }

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new ManualTimer(this, callback, state);
        lock (_lock)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    private void Schedule(ManualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        // The limits System.Threading.Timer enforces, so code that passes here also runs on the real clock.
        if (dueTime != Timeout.InfiniteTimeSpan && dueTime > MaxTimerDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(dueTime), dueTime, "A timer's due time can be at most 4294967294 ms.");
        }

        if (period != Timeout.InfiniteTimeSpan && period > MaxTimerDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, "A timer's period can be at most 4294967294 ms.");
        }

        lock (_lock)
        {
            timer.Due = dueTime == Timeout.InfiniteTimeSpan ? null : _now + (dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime);
            timer.Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
            timer.Order = ++_sequence;
        }
    }

    private void Remove(ManualTimer timer)
    {
        lock (_lock)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private bool _disposed;

        public DateTimeOffset? Due { get; set; }

        public TimeSpan? Period { get; set; }

        public long Order { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (_disposed)
            {
                return false;
            }

            owner.Schedule(this, dueTime, period);
            return true;
        }

        public void Fire()
        {
            if (!_disposed)
            {
                callback(state);
            }
        }

        public void Dispose()
        {
            _disposed = true;
            owner.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
