using Microsoft.Extensions.Time.Testing;

namespace Presence.Simulator;

/// <summary>
/// The engines' clock. The time is a <see cref="FakeTimeProvider"/>'s; the timers are this class's own, and fire only
/// when the simulation moves the clock (<see cref="StepTowards"/>), on the simulation's thread, each at its due
/// millisecond. (A <see cref="FakeTimeProvider"/> timer fires on whichever thread changes a timer while another is due,
/// which would let the engines' background work run timer callbacks beside the simulation.) Moving straight to the next
/// due timer also saves stepping through idle time.
/// </summary>
internal sealed class SteppingClock(DateTimeOffset epoch) : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly HashSet<SimTimer> _armed = [];
    private long _created;

    public FakeTimeProvider Fake { get; } = new(epoch);

    public long NowMs { get; private set; }

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    /// <summary>Moves the clock towards <paramref name="targetMs"/>, stopping at the first timer due on the way, and fires what is due; returns where it stopped.</summary>
    public long StepTowards(long targetMs)
    {
        if (targetMs <= NowMs)
        {
            return targetMs;
        }

        long next = targetMs;
        lock (_lock)
        {
            foreach (var t in _armed)
            {
                next = Math.Min(next, Math.Max(NowMs + 1, t.DueMs));
            }
        }

        Fake.Advance(TimeSpan.FromMilliseconds(next - NowMs));
        lock (_lock)
        {
            NowMs = next;
        }

        while (true)
        {
            SimTimer? due = null;
            lock (_lock)
            {
                foreach (var t in _armed)
                {
                    if (t.DueMs <= NowMs && (due is null || t.DueMs < due.DueMs || (t.DueMs == due.DueMs && t.Order < due.Order)))
                    {
                        due = t;
                    }
                }

                if (due is null)
                {
                    break;
                }

                if (due.PeriodMs > 0)
                {
                    due.DueMs = NowMs + due.PeriodMs;
                }
                else
                {
                    _armed.Remove(due);
                }
            }

            due.Callback(due.State);
        }

        return next;
    }

    /// <summary>Forgets every timer (the run is over).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _armed.Clear();
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        SimTimer timer;
        lock (_lock)
        {
            timer = new SimTimer(this, callback, state, _created++);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class SimTimer(SteppingClock clock, TimerCallback callback, object? state, long order) : ITimer
    {
        public TimerCallback Callback { get; } = callback;

        public object? State { get; } = state;

        public long Order { get; } = order;

        public long DueMs { get; set; }

        public long PeriodMs { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                PeriodMs = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(period.TotalMilliseconds);
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    clock._armed.Remove(this);
                }
                else
                {
                    DueMs = clock.NowMs + (long)Math.Ceiling(dueTime.TotalMilliseconds);
                    clock._armed.Add(this);
                }
            }

            return true;
        }

        public void Dispose()
        {
            lock (clock._lock)
            {
                clock._armed.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
