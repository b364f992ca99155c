namespace Presence.Internal;

/// <summary>
/// Converts between the engine's time unit — <see cref="TimeProvider.GetTimestamp"/> ticks, monotonic and free to
/// read — and wall-clock time, anchored once at construction. Deadlines and comparisons stay in ticks (no division
/// on a heartbeat); wall-clock time appears only where a user sees it: snapshots and stored records.
/// </summary>
internal readonly struct TimeBase
{
    private readonly long _startTimestamp;
    private readonly long _startWallTicks;
    private readonly long _frequency;

    public TimeBase(TimeProvider time)
    {
        _frequency = time.TimestampFrequency;
        _startWallTicks = time.GetUtcNow().UtcTicks;
        _startTimestamp = time.GetTimestamp();
    }

    /// <summary>Converts a duration to ticks.</summary>
    public long ToTicks(TimeSpan duration) => (long)((decimal)duration.Ticks * _frequency / TimeSpan.TicksPerSecond);

    /// <summary>Converts ticks to a duration.</summary>
    public TimeSpan ToTimeSpan(long ticks) => TimeSpan.FromTicks((long)((decimal)ticks * TimeSpan.TicksPerSecond / _frequency));

    /// <summary>The wall-clock time of an engine time.</summary>
    public DateTimeOffset ToWall(long ticks) => new(_startWallTicks + ToTimeSpan(ticks - _startTimestamp).Ticks, TimeSpan.Zero);

    /// <summary>The engine time of a wall-clock time.</summary>
    public long FromWall(DateTimeOffset wall) => _startTimestamp + ToTicks(TimeSpan.FromTicks(wall.UtcTicks - _startWallTicks));
}
