namespace Presence.Internal;

/// <summary>
/// Accepted status writes per user in a sliding window. Only accepted writes count: a write the engine refuses is refunded.
/// Memory: one entry per user who wrote within the last window; expired entries are swept when the table doubles.
/// </summary>
internal sealed class StatusWriteLimiter(int limit, TimeSpan window, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<UserId, List<DateTimeOffset>> _writes = [];
    private int _sweepAt = 1024;

    /// <summary>Takes one write for <paramref name="user"/>, or says how long until one is free.</summary>
    public bool TryAcquire(UserId user, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (limit == 0)
        {
            return true;
        }

        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_writes.TryGetValue(user, out var writes))
            {
                if (_writes.Count >= _sweepAt)
                {
                    Sweep(now);
                }

                writes = new List<DateTimeOffset>(limit);
                _writes[user] = writes;
            }

            writes.RemoveAll(at => now - at >= window);
            if (writes.Count >= limit)
            {
                retryAfter = window - (now - writes[0]);
                return false;
            }

            writes.Add(now);
            return true;
        }
    }

    /// <summary>Gives back the write just taken: the engine refused it.</summary>
    public void Refund(UserId user)
    {
        if (limit == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_writes.TryGetValue(user, out var writes) && writes.Count > 0)
            {
                writes.RemoveAt(writes.Count - 1);
            }
        }
    }

    internal int TrackedUsers
    {
        get
        {
            lock (_lock)
            {
                return _writes.Count;
            }
        }
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (user, writes) in _writes)
        {
            writes.RemoveAll(at => now - at >= window);
            if (writes.Count == 0)
            {
                _writes.Remove(user);
            }
        }

        _sweepAt = Math.Max(1024, _writes.Count * 2);
    }
}
