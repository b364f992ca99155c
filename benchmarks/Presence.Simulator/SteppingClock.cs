using Microsoft.Extensions.Time.Testing;

namespace Presence.Simulator;

/// <summary>
/// The engines' clock: a <see cref="FakeTimeProvider"/> whose timers are tracked, so the simulation can advance it
/// straight to the next instant something is due instead of in small fixed steps. Every timer callback runs at its due
/// time (to the millisecond), as on a real clock.
/// </summary>
internal sealed class SteppingClock(DateTimeOffset epoch) : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly HashSet<Tracked> _armed = [];

    public FakeTimeProvider Fake { get; } = new(epoch);

    public long NowMs { get; private set; }

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    /// <summary>Moves the clock towards <paramref name="targetMs"/>, stopping at the first timer due on the way; returns where it stopped.</summary>
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
        NowMs = next;
        return next;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Tracked(this, callback, state);
        timer.Arm(dueTime, period);
        timer.Inner = Fake.CreateTimer(static s => ((Tracked)s!).Fire(), timer, dueTime, period);
        return timer;
    }

    private sealed class Tracked(SteppingClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _periodMs;

        public ITimer Inner { get; set; } = null!;

        public long DueMs { get; private set; }

        public void Arm(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                _periodMs = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(period.TotalMilliseconds);
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
        }

        public void Fire()
        {
            lock (clock._lock)
            {
                if (_periodMs > 0)
                {
                    DueMs = clock.NowMs + _periodMs;
                }
                else
                {
                    clock._armed.Remove(this);
                }
            }

            callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Arm(dueTime, period);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (clock._lock)
            {
                clock._armed.Remove(this);
            }

            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
