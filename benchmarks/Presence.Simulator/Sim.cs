namespace Presence.Simulator;

/// <summary>A discrete-event loop in milliseconds. Events at one instant run in phase order, then in the order they were scheduled.</summary>
internal sealed class Sim
{
    private readonly PriorityQueue<Action, (long T, int Phase, long Seq)> _queue = new();
    private readonly Lock _lock = new();
    private long _seq;

    public long Now { get; private set; }

    /// <summary>Called before time moves to an event's instant; may schedule earlier events (the engine's clock steps through it).</summary>
    public Func<long, long>? StepClock { get; set; }

    public void At(long t, Action action, int phase = 0)
    {
        lock (_lock)
        {
            _queue.Enqueue(action, (Math.Max(t, Now), phase, _seq++));
        }
    }

    /// <summary>Drops every pending event (the run is over).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _queue.Clear();
        }
    }

    /// <summary>Gets the thread the loop runs on (engine callbacks from other threads are marshalled onto it).</summary>
    public int Thread { get; private set; } = -1;

    public void RunUntil(long end)
    {
        Thread = Environment.CurrentManagedThreadId;
        while (true)
        {
            long t = end;
            lock (_lock)
            {
                if (_queue.TryPeek(out _, out var key) && key.T <= end)
                {
                    t = key.T;
                }
            }

            if (StepClock is { } step && step(t) < t)
            {
                continue; // the clock moved part of the way; events it caused may come first
            }

            Action? action = null;
            lock (_lock)
            {
                // Peek again: the clock's step, or another thread, may have added an earlier event.
                if (_queue.TryPeek(out var next, out var key) && key.T <= t)
                {
                    _queue.Dequeue();
                    action = next;
                    Now = key.T;
                }
            }

            if (action is null)
            {
                if (t >= end)
                {
                    Now = end;
                    return;
                }

                continue;
            }

            action();
        }
    }
}

/// <summary>One transaction handed to the network (delivered or not), as counted at the transport.</summary>
internal readonly record struct Txn(long T, int From, int To, int Pdus, int PresenceEntries, int PresenceEdus, int PresenceBytes, bool Failed)
{
    /// <summary>A transaction that exists only because of presence: it carries no room events.</summary>
    public bool PresenceCaused => Pdus == 0;
}

/// <summary>What a strategy puts into one transaction: entries (user presence states) and EDUs, sized with the codec.</summary>
internal sealed class PresencePayload
{
    public List<PresenceSnapshot> Entries { get; } = [];

    /// <summary>Gets or sets the entries counted (pushes, and polls or list requests where a strategy sends them); the pushes when unset.</summary>
    public int? EntryCount { get; set; }

    public int Count => EntryCount ?? Entries.Count;

    public int Edus { get; set; }

    public int Bytes { get; set; }

    public object? Tag { get; set; }
}

/// <summary>
/// The host's per-destination transaction queue (what Synapse, Dendrite and any Matrix server have): one transaction in
/// flight per destination; whatever is queued while it flies goes in the next one, built the moment it returns (or at the
/// end of the instant something was queued). Room events (chat) and EDUs travel together, so a presence EDU that a
/// strategy hands over while a transaction is built rides for free. A failed transaction is retried with backoff
/// (10 s doubling up to 10 min), and at once when the destination sends us anything.
/// </summary>
internal sealed class HostNetwork
{
    private static readonly long[] Backoff = [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000];
    private readonly Queue[] _queues;
    private readonly int _servers;

    public HostNetwork(Run run)
    {
        Run = run;
        _servers = run.World.Servers.Length;
        _queues = new Queue[_servers * _servers];
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new Queue();
        }
    }

    public Run Run { get; }

    public List<Txn> Sent { get; } = [];

    /// <summary>Set by strategies that ride the host's transactions: presence owed to (from, to), taken whenever a transaction is built (null when none).</summary>
    public Func<int, int, PresencePayload?>? TakePresence { get; set; }

    /// <summary>Whether a strategy has presence that needs a transaction to (from, to) even without room events.</summary>
    public Func<int, int, bool>? HasPresence { get; set; }

    /// <summary>Told when a transaction carrying a strategy's presence failed.</summary>
    public Action<int, int, PresencePayload>? PresenceFailed { get; set; }

    /// <summary>Told when a transaction arrives: (from, to, payload or null, carried room events).</summary>
    public Action<int, int, PresencePayload?, bool>? Delivered { get; set; }

    public void QueueChat(int from, int to)
    {
        var q = _queues[(from * _servers) + to];
        q.Pdus++;
        Wake(from, to);
    }

    /// <summary>Asks for a transaction to (from, to) at the end of this instant unless one is in flight or backing off.</summary>
    public void Wake(int from, int to)
    {
        var q = _queues[(from * _servers) + to];
        if (q.InFlight || q.WakeScheduled || q.RetryAt > Run.Sim.Now)
        {
            return;
        }

        q.WakeScheduled = true;
        Run.Sim.At(Run.Sim.Now, () => Build(from, to), phase: 1);
    }

    /// <summary>A presence-only message outside the host's queue (naive sending, or an engine without the riding API).</summary>
    public void SendDirect(int from, int to, PresencePayload payload, Action<bool> done)
    {
        long now = Run.Sim.Now;
        bool down = Run.World.LinkDown(from, to, now);
        Sent.Add(new Txn(now, from, to, 0, payload.Count, payload.Edus, payload.Bytes, down));
        Run.Sim.At(now + Run.LatencyMs, () =>
        {
            if (down)
            {
                done(false);
                return;
            }

            Arrived(from, to, payload, chat: false);
            done(true);
        });
    }

    public string Describe(int from, int to)
    {
        var q = _queues[(from * _servers) + to];
        return $"pdus {q.Pdus} inflight {q.InFlight} wake {q.WakeScheduled} retry {q.RetryAt} failures {q.Failures}";
    }

    private void Build(int from, int to)
    {
        var q = _queues[(from * _servers) + to];
        q.WakeScheduled = false;
        if (q.InFlight || q.RetryAt > Run.Sim.Now)
        {
            return;
        }

        bool presence = HasPresence?.Invoke(from, to) ?? false;
        if (q.Pdus == 0 && !presence)
        {
            return;
        }

        int pdus = Math.Min(q.Pdus, 50);
        q.Pdus -= pdus;
        var payload = TakePresence?.Invoke(from, to); // whatever presence is owed rides, whatever woke the queue
        if (payload is null && pdus == 0)
        {
            return;
        }

        long now = Run.Sim.Now;
        bool down = Run.World.LinkDown(from, to, now);
        Sent.Add(new Txn(now, from, to, pdus, payload?.Count ?? 0, payload?.Edus ?? 0, payload?.Bytes ?? 0, down));
        q.InFlight = true;
        Run.Sim.At(now + Run.LatencyMs, () =>
        {
            q.InFlight = false;
            if (down)
            {
                q.Pdus += pdus;
                if (payload is not null)
                {
                    PresenceFailed?.Invoke(from, to, payload);
                }

                q.RetryAt = Run.Sim.Now + Backoff[Math.Min(q.Failures++, Backoff.Length - 1)];
                Run.Sim.At(q.RetryAt, () => Wake(from, to));
                return;
            }

            q.Failures = 0;
            Arrived(from, to, payload, chat: pdus > 0);
            Wake(from, to);
        });
    }

    private void Arrived(int from, int to, PresencePayload? payload, bool chat)
    {
        Run.NoteFirstTraffic(from, to);
        Delivered?.Invoke(from, to, payload, chat);

        // Inbound traffic proves the sender is up: our queue to it retries at once.
        var back = _queues[(to * _servers) + from];
        if (back.RetryAt > Run.Sim.Now)
        {
            back.RetryAt = 0;
            back.Failures = 0;
            Wake(to, from);
        }
    }

    private sealed class Queue
    {
        public int Pdus;
        public bool InFlight;
        public bool WakeScheduled;
        public long RetryAt;
        public int Failures;
    }
}
