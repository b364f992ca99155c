namespace Presence.Core.Tests;

/// <summary>
/// Hands the code under test a <see cref="FakeTimeProvider"/>'s time and timers, and keeps track of when each timer
/// created through it is due: <see cref="FakeTimeProvider"/> keeps its timers to itself.
/// </summary>
/// <remarks>
/// <see cref="FakeTimeProvider.Advance"/> moves the clock to the end first and then fires every timer due by then,
/// in due order, each callback seeing the end time; a timer armed from a callback is due relative to the end time.
/// Most tests advance in steps that make this immaterial. Those that check the instant something happened on a
/// timer whose due time they do not know (a flush on a destination's hashed slot, a retry after a backoff with
/// jitter) use <see cref="AdvanceTimerByTimer"/>, which advances the fake clock to each armed timer's due time in
/// turn, so every callback runs at its due time, as on a real clock.
/// </remarks>
internal sealed class TimerTrackingTimeProvider(FakeTimeProvider clock) : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly HashSet<TrackedTimer> _armed = [];

    /// <summary>Gets the fake clock that keeps the time and fires the timers.</summary>
    public FakeTimeProvider Clock { get; } = clock;

    /// <summary>Gets the number of timers waiting to fire.</summary>
    public int ArmedTimers
    {
        get
        {
            lock (_lock)
            {
                return _armed.Count;
            }
        }
    }

    public override DateTimeOffset GetUtcNow() => Clock.GetUtcNow();

    public override long GetTimestamp() => Clock.GetTimestamp();

    public override long TimestampFrequency => Clock.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Clock.LocalTimeZone;

    /// <summary>Moves the fake clock forward by <paramref name="delta"/>, stopping at each armed timer's due time on the way.</summary>
    /// <param name="delta">How far.</param>
    public void AdvanceTimerByTimer(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        var target = Clock.GetUtcNow() + delta;
        while (NextDue() is { } due && due <= target)
        {
            var now = Clock.GetUtcNow();
            Clock.Advance(due > now ? due - now : TimeSpan.Zero);
        }

        Clock.Advance(target - Clock.GetUtcNow());
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new TrackedTimer(this, callback, state);
        Track(timer, dueTime, period);
        timer.Inner = Clock.CreateTimer(static s => ((TrackedTimer)s!).Fire(), timer, dueTime, period);
        return timer;
    }

    private DateTimeOffset? NextDue()
    {
        lock (_lock)
        {
            return _armed.Count == 0 ? null : _armed.Min(static t => t.Due);
        }
    }

    private void Track(TrackedTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        lock (_lock)
        {
            timer.Period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                _armed.Remove(timer);
            }
            else
            {
                timer.Due = Clock.GetUtcNow() + (dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime);
                _armed.Add(timer);
            }
        }
    }

    private void Fired(TrackedTimer timer)
    {
        lock (_lock)
        {
            if (timer.Period > TimeSpan.Zero)
            {
                timer.Due = Clock.GetUtcNow() + timer.Period;
            }
            else
            {
                _armed.Remove(timer);
            }
        }
    }

    private void Untrack(TrackedTimer timer)
    {
        lock (_lock)
        {
            _armed.Remove(timer);
        }
    }

    private sealed class TrackedTimer(TimerTrackingTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private volatile bool _disposed;

        public ITimer? Inner { get; set; }

        public DateTimeOffset Due { get; set; }

        public TimeSpan Period { get; set; }

        public void Fire()
        {
            if (_disposed)
            {
                return;
            }

            owner.Fired(this); // before the callback, which may arm the timer again
            callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (_disposed)
            {
                return false;
            }

            owner.Track(this, dueTime, period);
            return Inner!.Change(dueTime, period);
        }

        public void Dispose()
        {
            _disposed = true;
            owner.Untrack(this);
            Inner?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
