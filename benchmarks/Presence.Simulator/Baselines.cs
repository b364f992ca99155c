namespace Presence.Simulator;

/// <summary>Sizes presence with the project's codec: the bytes of one EDU, and of the transaction envelope around it.</summary>
internal static class Sizes
{
    private static readonly ServerName Origin = ServerName.Parse("s00.example");
    private static int _envelope = -1;

    public static int Envelope => _envelope >= 0 ? _envelope : _envelope = MatrixPresenceCodec.WriteTransaction(Origin, DateTimeOffset.UnixEpoch, new PresenceMessage()).Length;

    private static readonly Dictionary<(UserId, PresenceState, string?, bool, int), int> Single = [];

    /// <summary>
    /// The bytes one EDU carrying one state adds to a transaction. Its JSON length depends only on the user, state,
    /// status, flag and the number of digits of last_active_ago, so the codec is asked once per such shape.
    /// </summary>
    public static int SingleEdu(ServerName origin, DateTimeOffset now, PresenceSnapshot entry)
    {
        long ago = entry.LastActive is { } at ? Math.Max(0, (long)(now - at).TotalMilliseconds) : -1;
        var key = (entry.User, entry.State, entry.StatusMessage, entry.CurrentlyActive, ago < 0 ? -1 : ago.ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        if (!Single.TryGetValue(key, out int bytes))
        {
            Single[key] = bytes = Edu(origin, now, new PresenceMessage(push: [entry]));
        }

        return bytes;
    }

    /// <summary>The bytes a message's EDUs add to a transaction.</summary>
    public static int Edu(ServerName origin, DateTimeOffset now, PresenceMessage message)
        => Math.Max(0, MatrixPresenceCodec.WriteTransaction(origin, now, message).Length - Envelope);
}

/// <summary>The baselines share the reference changes and the receivers' view table.</summary>
internal abstract class BaselineStrategy : Strategy
{
    protected PresenceSnapshot Snapshot(in Change c)
        => new(Run.World.Users[c.User], c.State, Run.World.StatusTexts[c.Status], c.LastActive < 0 ? null : Run.Wall(c.LastActive), c.Active, DeviceKinds.None);

    protected PresencePayload Payload(int from, IReadOnlyList<PresenceSnapshot> entries, int edus)
    {
        var payload = new PresencePayload { Edus = edus };
        payload.Entries.AddRange(entries);
        var now = Run.Wall(Run.Sim.Now);
        payload.Bytes = edus == 1 && entries.Count > 1
            ? Sizes.Edu(Run.World.Servers[from], now, new PresenceMessage(push: entries))
            : entries.Sum(e => Sizes.SingleEdu(Run.World.Servers[from], now, e));
        return payload;
    }

    protected void Deliver(int to, PresencePayload? payload)
    {
        if (payload is null)
        {
            return;
        }

        foreach (var entry in payload.Entries)
        {
            Run.Received(to, entry);
        }
    }

    public override (PresenceState State, int Status) ReadView(int server, int user)
    {
        var (state, status, _) = Run.Wire(server, user);
        return (state, status);
    }
}

/// <summary>
/// Naive: every change is its own message to every interested server, sent at once, outside any queue (so it never rides).
/// A failed message is retried on its own with the host's backoff. Receivers keep what they got (no expiry).
/// </summary>
internal sealed class NaiveStrategy : BaselineStrategy
{
    private static readonly long[] Backoff = [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000];

    public override string Name => "naive";

    public override void OnChange(in Change c)
    {
        int from = Run.World.ServerOf[c.User];
        var snapshot = Snapshot(c);
        foreach (int to in Run.Interest[c.User])
        {
            Send(from, to, Payload(from, [snapshot], 1), 0);
        }
    }

    private void Send(int from, int to, PresencePayload payload, int attempt)
        => Run.Net.SendDirect(from, to, payload, ok =>
        {
            if (!ok)
            {
                Run.Sim.At(Run.Sim.Now + Backoff[Math.Min(attempt, Backoff.Length - 1)], () => Send(from, to, payload, attempt + 1));
            }
        });

    public override Task StartAsync()
    {
        Run.Net.Delivered = (_, to, payload, _) => Deliver(to, payload);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Synapse's rules (synapse/handlers/presence.py, synapse/federation/sender/per_destination_queue.py): each change is put in
/// the destination's pending presence (latest state per user) and wakes the per-destination queue; a transaction takes at
/// most 50 states (one presence EDU; the rest wait for the next transaction); every user who is not offline and whose
/// state has not gone to federation for 25 minutes (FEDERATION_PING_INTERVAL) is re-sent; a failed transaction drops the
/// pending presence; the receiver marks a remote user offline 30 minutes (FEDERATION_TIMEOUT) after their last update.
/// </summary>
internal sealed class SynapseStrategy : BaselineStrategy
{
    private const long PingInterval = 25 * 60_000;
    private const long FederationTimeout = 30 * 60_000;
    private const int StatesPerEdu = 50;
    private Dictionary<int, PresenceSnapshot>[] _pending = [];
    private long[] _lastFederated = [];
    private int _servers;

    public override string Name => "Synapse rules";

    public override Task StartAsync()
    {
        _servers = Run.World.Servers.Length;
        _pending = new Dictionary<int, PresenceSnapshot>[_servers * _servers];
        for (int i = 0; i < _pending.Length; i++)
        {
            _pending[i] = [];
        }

        _lastFederated = new long[Run.World.Users.Length];
        Run.Net.HasPresence = (from, to) => _pending[(from * _servers) + to].Count > 0;
        Run.Net.TakePresence = Take;
        Run.Net.PresenceFailed = (from, to, _) => _pending[(from * _servers) + to].Clear();
        Run.Net.Delivered = (_, to, payload, _) => Deliver(to, payload);

        // The presence handler's timeout pass (every 5 s in Synapse) re-sends users due a federation ping.
        for (long t = 5_000; t < Run.World.DurationMs; t += 5_000)
        {
            long at = t;
            Run.Sim.At(at, () => Ping(at), phase: 0);
        }

        return Task.CompletedTask;
    }

    public override void OnChange(in Change c) => Queue(c.User, Snapshot(c), c.T);

    public override (PresenceState State, int Status) ReadView(int server, int user)
    {
        var (state, status, at) = Run.Wire(server, user);
        return state is PresenceState.Online or PresenceState.Unavailable && Run.Sim.Now - at > FederationTimeout ? (PresenceState.Offline, status) : (state, status);
    }

    private void Queue(int user, PresenceSnapshot snapshot, long now)
    {
        _lastFederated[user] = now;
        int from = Run.World.ServerOf[user];
        foreach (int to in Run.Interest[user])
        {
            _pending[(from * _servers) + to][user] = snapshot;
            Run.Net.Wake(from, to);
        }
    }

    private void Ping(long now)
    {
        for (int u = 0; u < _lastFederated.Length; u++)
        {
            if (now - _lastFederated[u] < PingInterval)
            {
                continue;
            }

            var current = Run.Reference.At(u, now);
            if (current.State != PresenceState.Offline && Run.Interest[u].Length > 0)
            {
                Queue(u, Snapshot(current), now);
            }
            else
            {
                _lastFederated[u] = now;
            }
        }
    }

    private PresencePayload? Take(int from, int to)
    {
        var pending = _pending[(from * _servers) + to];
        if (pending.Count == 0)
        {
            return null;
        }

        var entries = new List<PresenceSnapshot>(Math.Min(StatesPerEdu, pending.Count));
        foreach (var (user, snapshot) in pending)
        {
            entries.Add(snapshot);
            if (entries.Count == StatesPerEdu)
            {
                break;
            }
        }

        foreach (var entry in entries)
        {
            pending.Remove(Run.UserIndex[entry.User]);
        }

        return Payload(from, entries, 1);
    }
}

/// <summary>
/// Dendrite's: each change is its own m.presence EDU, handed at once to the per-destination queue (one transaction in
/// flight; up to 100 EDUs per transaction, so EDUs queued meanwhile ride together and with room events); queued EDUs are
/// kept across failures and sent when the destination is back. No periodic re-send; the receiver keeps what it got.
/// </summary>
internal sealed class DendriteStrategy : BaselineStrategy
{
    private const int EdusPerTransaction = 100;
    private Queue<PresenceSnapshot>[] _pending = [];
    private int _servers;

    public override string Name => "Dendrite rules";

    public override Task StartAsync()
    {
        _servers = Run.World.Servers.Length;
        _pending = new Queue<PresenceSnapshot>[_servers * _servers];
        for (int i = 0; i < _pending.Length; i++)
        {
            _pending[i] = new();
        }

        Run.Net.HasPresence = (from, to) => _pending[(from * _servers) + to].Count > 0;
        Run.Net.TakePresence = PresencePayload? (from, to) =>
        {
            var pending = _pending[(from * _servers) + to];
            if (pending.Count == 0)
            {
                return null;
            }

            var entries = new List<PresenceSnapshot>();
            while (entries.Count < EdusPerTransaction && pending.TryDequeue(out var next))
            {
                entries.Add(next);
            }

            return Payload(from, entries, entries.Count);
        };
        Run.Net.PresenceFailed = (from, to, payload) =>
        {
            var pending = _pending[(from * _servers) + to];
            var rest = pending.ToArray();
            pending.Clear();
            foreach (var e in payload.Entries.Concat(rest))
            {
                pending.Enqueue(e);
            }
        };
        Run.Net.Delivered = (_, to, payload, _) => Deliver(to, payload);
        return Task.CompletedTask;
    }

    public override void OnChange(in Change c)
    {
        int from = Run.World.ServerOf[c.User];
        var snapshot = Snapshot(c);
        foreach (int to in Run.Interest[c.User])
        {
            _pending[(from * _servers) + to].Enqueue(snapshot);
            Run.Net.Wake(from, to);
        }
    }
}
