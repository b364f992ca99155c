namespace Presence.Internal;

/// <summary>Which of a peer's deadlines fired.</summary>
internal enum WatchdogKind
{
    /// <summary>Nothing heard from the peer for the short watchdog.</summary>
    Short,

    /// <summary>The long watchdog: a reminder is due whatever the traffic.</summary>
    Long,

    /// <summary>The re-send cycle for a peer that only speaks the specification (it drops users after 30 minutes without an update).</summary>
    Refresh,
}

/// <summary>
/// Three deadlines per peer server: the seed's two watchdogs — a short one reset by any message or traffic from the peer,
/// and a long one staggered across peers (the first within [long/2, long) at the pair's phase, then every long period) —
/// and a refresh cycle at a phase of its own for peers that only speak the specification. Resets are lazy: they store one time and touch no
/// queue; a heap holds at most one live entry per peer, never later than its true deadline, and a tick costs in
/// proportion to the entries that come due. Not thread-safe: the engine calls it under its lock.
/// </summary>
internal sealed class WatchdogManager
{
    private OpenIndex _index = new(16);
    private readonly PriorityQueue<int, long> _due = new();
    private readonly ServerName _origin;
    private readonly long _short;
    private readonly long _long;
    private readonly long _refresh;
    private readonly Stack<int> _free = new();
    private Slot[] _slots = new Slot[16];
    private int _high;
    private int _count;

    public WatchdogManager(ServerName origin, long shortTicks, long longTicks, long refreshTicks)
    {
        _origin = origin;
        _short = shortTicks;
        _long = longTicks;
        _refresh = refreshTicks;
    }

    public int Count => _count;

    /// <summary>Gets the earliest queued deadline (possibly stale), or <see cref="UserTable.NoDeadline"/>.</summary>
    public long NextDeadline => _due.TryPeek(out _, out long due) ? due : UserTable.NoDeadline;

    public bool IsTracked(ServerName peer) => TryFind(peer, out _);

    private bool TryFind(ServerName peer, out int index) => _index.TryFind(peer, peer.GetHashCode(), new SlotKeys(_slots), out index);

    /// <summary>Starts watching a peer: short deadline from now, long deadline at the peer's own phase within the next long period.</summary>
    public void Track(ServerName peer, long now)
    {
        if (TryFind(peer, out _))
        {
            return;
        }

        if (!_free.TryPop(out int index))
        {
            if (_high == _slots.Length)
            {
                Array.Resize(ref _slots, _high * 2);
            }

            index = _high++;
        }

        _count++;
        _slots[index] = new Slot
        {
            Peer = peer,
            LastTraffic = now,
            LongDue = now + (_long / 2) + OutboundScheduler.Phase(_origin, peer, Math.Max(1, _long / 2)),
            RefreshDue = NextRefresh(peer, now),
            ScheduledDue = UserTable.NoDeadline,
        };
        _index.Add(peer.GetHashCode(), index);
        Schedule(index);
    }

    /// <summary>Stops watching a peer we no longer exchange presence with: its slot is reused, its queued deadline ignored.</summary>
    public void Untrack(ServerName peer)
    {
        if (!TryFind(peer, out int index))
        {
            return;
        }

        _index.Remove(peer.GetHashCode(), index);
        _slots[index] = new Slot { ScheduledDue = UserTable.NoDeadline };
        _free.Push(index);
        _count--;
    }

    /// <summary>Any message or traffic from the peer: the short deadline restarts. O(1), no allocation.</summary>
    public void NoteTraffic(ServerName peer, long now)
    {
        if (TryFind(peer, out int index))
        {
            _slots[index].LastTraffic = now;
        }
    }

    /// <summary>
    /// A reminder from the peer: it is traffic, so the short deadline restarts. The long one keeps its own staggered
    /// schedule: our reminders carry the state of users the peer sees through rooms, which its reminder cannot refresh.
    /// </summary>
    public void NoteReminder(ServerName peer, long now) => NoteTraffic(peer, now);

    /// <summary>The next point of the peer's refresh grid after <paramref name="now"/> (period <c>refresh</c>, at the pair's phase).</summary>
    private long NextRefresh(ServerName peer, long now)
    {
        long phase = OutboundScheduler.Phase(_origin, peer, _refresh);
        long k = Math.DivRem(now - phase, _refresh, out long remainder);
        if (remainder < 0)
        {
            k--;
        }

        return phase + ((k + 1) * _refresh);
    }

    /// <summary>Collects the peers whose deadlines have passed; each fired deadline restarts (short and long from now, refresh on its grid).</summary>
    public void Expire(long now, List<(ServerName Peer, WatchdogKind Kind)> fired)
    {
        while (_due.TryPeek(out int index, out long due) && due <= now)
        {
            _due.Dequeue();
            ref Slot slot = ref _slots[index];
            if (slot.ScheduledDue != due || slot.Peer.IsEmpty)
            {
                continue; // superseded, or the peer was untracked
            }

            slot.ScheduledDue = UserTable.NoDeadline;
            bool shortFired = slot.LastTraffic + _short <= now;
            bool longFired = slot.LongDue <= now;
            if (shortFired || longFired)
            {
                fired.Add((slot.Peer, longFired ? WatchdogKind.Long : WatchdogKind.Short));
                slot.LastTraffic = now;
                if (longFired)
                {
                    slot.LongDue = now + _long;
                }
            }

            if (slot.RefreshDue <= now)
            {
                fired.Add((slot.Peer, WatchdogKind.Refresh));
                slot.RefreshDue = NextRefresh(slot.Peer, now);
            }

            Schedule(index);
        }
    }

    /// <summary>Gets a peer's deadlines, for tests and diagnostics.</summary>
    public (long Short, long Long) DeadlinesOf(ServerName peer)
    {
        if (!TryFind(peer, out int index))
        {
            throw new KeyNotFoundException($"{peer} is not tracked.");
        }

        ref Slot slot = ref _slots[index];
        return (slot.LastTraffic + _short, slot.LongDue);
    }

    private void Schedule(int index)
    {
        ref Slot slot = ref _slots[index];
        long due = Math.Min(Math.Min(slot.LastTraffic + _short, slot.LongDue), slot.RefreshDue);
        if (due < slot.ScheduledDue)
        {
            slot.ScheduledDue = due;
            _due.Enqueue(index, due);
        }
    }

    private struct Slot
    {
        public ServerName Peer;
        public long LastTraffic;
        public long LongDue;
        public long RefreshDue;
        public long ScheduledDue;
    }

    private readonly struct SlotKeys(Slot[] slots) : IIndexKeys<ServerName>
    {
        public bool Matches(int slot, ServerName key) => slots[slot].Peer == key;
    }
}
