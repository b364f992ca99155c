namespace Presence.Simulator;

/// <summary>A strategy replays the trace on its own network; the run measures it at the transport and at the receivers.</summary>
internal abstract class Strategy
{
    public abstract string Name { get; }

    /// <summary>Gets a value indicating whether this strategy reads client signals (the engine) rather than the reference changes.</summary>
    public virtual bool UsesTrace => false;

    public Run Run { get; set; } = null!;

    public virtual Task StartAsync() => Task.CompletedTask;

    public virtual void OnTrace(in TraceEvent e)
    {
    }

    public virtual void OnChange(in Change c)
    {
    }

    /// <summary>What the receiver <paramref name="server"/> shows for <paramref name="user"/> now (unknown when it holds nothing).</summary>
    public abstract (PresenceState State, int Status) ReadView(int server, int user);

    /// <summary>Gets what went wrong in the adapter, if anything (printed with the run's time).</summary>
    public virtual string Diagnostics => string.Empty;

    /// <summary>Heap bytes the strategy holds (the engine), or null.</summary>
    public virtual long? MemoryBytes => null;

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>One strategy over one workload: replays, counts, samples views, measures staleness and recovery.</summary>
internal sealed class Run
{
    private const long LostAfter = 120_000; // a view is lost when the user has been present this long and it still reads offline/unknown
    private readonly Dictionary<long, int> _viewIds = [];
    private readonly List<int>[] _viewsOfUser;
    private readonly int[] _viewServer;
    private readonly int[] _viewUser;
    private readonly View[] _views;
    private readonly int[] _sample;
    private readonly int[][] _listOwners;
    private readonly bool _excluded;
    private long _firstTrafficAfterOutage = -1;
    private long _recoveredAt = -1;
    private long[] _firstTrafficTo = [];
    private long[] _peerRecoveredAt = [];

    public Run(World world, Reference reference, int[][] interest, Strategy strategy, bool excluded, IReadOnlyCollection<string> excludedRooms)
    {
        ExcludedRooms = excludedRooms;
        World = world;
        Reference = reference;
        Interest = interest;
        Strategy = strategy;
        _excluded = excluded;
        LatencyMs = (long)world.Options.Latency.TotalMilliseconds;
        Net = new HostNetwork(this);
        _viewsOfUser = new List<int>[world.Users.Length];
        var servers = new List<int>();
        var users = new List<int>();
        for (int u = 0; u < world.Users.Length; u++)
        {
            _viewsOfUser[u] = [];
            foreach (int d in interest[u])
            {
                _viewIds[Key(d, u)] = servers.Count;
                _viewsOfUser[u].Add(servers.Count);
                servers.Add(d);
                users.Add(u);
            }
        }

        _viewServer = [.. servers];
        _viewUser = [.. users];

        // Views that exist only through presence lists: a viewer is there only while a list owner on that server is online
        // (the engine polls list entries only while an owner's client cares). Elsewhere, every view counts.
        _listOwners = new int[servers.Count][];
        var owners = world.Lists.GroupBy(l => (world.ServerOf[l.Owner], l.Target)).ToDictionary(g => g.Key, g => g.Select(l => l.Owner).ToArray());
        for (int v = 0; v < servers.Count; v++)
        {
            int u = users[v], d = servers[v];
            bool viaRoom = world.RoomsOf[u].Any(r => !excludedRooms.Contains(world.RoomIds[r]) && world.Members[r].Any(m => world.ServerOf[m] == d));
            _listOwners[v] = viaRoom ? [] : owners.GetValueOrDefault((d, u), []);
        }
        _views = new View[servers.Count];
        for (int v = 0; v < _views.Length; v++)
        {
            _views[v].State = PresenceState.Unknown;
        }

        // The same sample of views for every strategy (seeded by the workload, not the strategy).
        var rng = new Random(world.Options.Seed ^ 0x5eed);
        var all = Enumerable.Range(0, _views.Length).ToArray();
        rng.Shuffle(all);
        _sample = [.. all.Take(Math.Min(all.Length, world.Options.ViewSample)).Order()];
        UserIndex = new Dictionary<UserId, int>(world.Users.Length);
        for (int u = 0; u < world.Users.Length; u++)
        {
            UserIndex[world.Users[u]] = u;
        }

        ServerIndex = world.Servers.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i);
        strategy.Run = this;
    }

    public World World { get; }

    /// <summary>Gets the rooms that share no presence in this run (PresenceOptions.ExcludedRooms for the engine).</summary>
    public IReadOnlyCollection<string> ExcludedRooms { get; }

    public Reference Reference { get; }

    public int[][] Interest { get; }

    public Strategy Strategy { get; }

    public Sim Sim { get; } = new();

    public HostNetwork Net { get; }

    public long LatencyMs { get; }

    public Dictionary<UserId, int> UserIndex { get; }

    public Dictionary<ServerName, int> ServerIndex { get; }

    public DateTimeOffset Epoch { get; } = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    public List<(long Staleness, bool Prompt, bool Outage)> Staleness { get; } = [];

    public long LostSamples { get; private set; }

    public long ViewSamples { get; private set; }

    public HashSet<int> LostViews { get; } = [];

    public long Undelivered { get; private set; }

    public int ViewCount => _views.Length;

    /// <summary>Gets the heap the run's own records take (the transaction log and the staleness samples).</summary>
    public long RecordedBytes => ((long)Net.Sent.Capacity * System.Runtime.CompilerServices.Unsafe.SizeOf<Txn>()) + ((long)Staleness.Capacity * 16) + ((long)LostViews.Count * 16);

    /// <summary>
    /// Gets or sets a value indicating whether receivers derive <c>currently_active</c> from the last-active time (peers that
    /// speak this protocol) instead of holding the flag they were sent.
    /// </summary>
    public bool DeriveActive { get; set; }


    public static long Key(int server, int user) => ((long)server << 32) | (uint)user;

    public DateTimeOffset Wall(long t) => Epoch.AddMilliseconds(t);

    public int StatusId(string? text) => text is null ? 0 : Math.Max(0, Array.IndexOf(World.StatusTexts, text));

    public async Task<Result> ExecuteAsync()
    {
        await Strategy.StartAsync().ConfigureAwait(false);
        var trace = World.Trace;
        var changes = Reference.All;
        int ti = 0, ci = 0;
        long end = World.DurationMs;

        // Feed the trace and the reference changes in time order, chat transactions for every strategy.
        void FeedNext()
        {
            long next = Math.Min(ti < trace.Length ? trace[ti].T : long.MaxValue, ci < changes.Length ? changes[ci].T : long.MaxValue);
            if (next == long.MaxValue)
            {
                return;
            }

            Sim.At(next, () =>
            {
                while (ti < trace.Length && trace[ti].T == next)
                {
                    var e = trace[ti++];
                    if (e.Kind == TraceKind.Chat)
                    {
                        int from = World.ServerOf[e.User];
                        foreach (int to in World.ServersOfRoom(e.Arg))
                        {
                            if (to != from)
                            {
                                Net.QueueChat(from, to);
                            }
                        }
                    }

                    if (Strategy.UsesTrace)
                    {
                        Strategy.OnTrace(e);
                    }
                }

                while (ci < changes.Length && changes[ci].T == next)
                {
                    var c = changes[ci++];
                    if (!Strategy.UsesTrace)
                    {
                        Strategy.OnChange(c);
                    }

                    foreach (int v in _viewsOfUser[c.User])
                    {
                        Resolve(v, next); // a receiver may already hold it (a flap back, or a flip it derives)
                    }

                    if (DeriveActive && !c.Prompt)
                    {
                        int user = c.User;
                        Sim.At(next + 1, () => { foreach (int v in _viewsOfUser[user]) { Resolve(v, Sim.Now); } }, phase: 2);
                    }
                }

                FeedNext();
            });
        }

        FeedNext();
        long every = (long)World.Options.SampleEvery.TotalMilliseconds;
        for (long t = every; t < end; t += every)
        {
            long at = t;
            Sim.At(at, () => SampleViews(at), phase: 2);
        }

        if (World.Options.HasOutage)
        {
            for (long t = World.OutageEndMs; t < Math.Min(end, World.OutageEndMs + (30 * 60_000)); t += 1000)
            {
                long at = t;
                Sim.At(at, () => CheckRecovery(at), phase: 2);
            }
        }

        Sim.RunUntil(end);
        foreach (var (v, view) in _views.Select((view, v) => (v, view)))
        {
            var list = Reference.PerUser[_viewUser[v]];
            for (int i = view.Next; i < list.Count && list[i].T < end - 120_000; i++)
            {
                if (!InOutage(v, list[i].T, end) && Watched(v, list[i].T))
                {
                    Undelivered++;
                }
            }
        }

        await Strategy.DisposeAsync().ConfigureAwait(false);
        return new Result(Strategy.Name, _excluded, this, Strategy.MemoryBytes);
    }

    /// <summary>A receiver got a user's presence (counted at the transport).</summary>
    public void Received(int server, PresenceSnapshot snapshot)
    {
        if (!UserIndex.TryGetValue(snapshot.User, out int user) || !_viewIds.TryGetValue(Key(server, user), out int v))
        {
            return;
        }

        ref var view = ref _views[v];
        if (Debug && v == DebugView)
        {
            Console.WriteLine($"  arrive t={Sim.Now / 1000.0:F1} {snapshot.State} status={StatusId(snapshot.StatusMessage)} active={snapshot.CurrentlyActive}");
        }

        view.State = snapshot.State;
        view.Status = StatusId(snapshot.StatusMessage);
        view.Active = snapshot.CurrentlyActive;
        view.LastActive = snapshot.LastActive is { } at ? (long)(at - Epoch).TotalMilliseconds : long.MinValue;
        view.ReceivedAt = Sim.Now;
        Resolve(v, Sim.Now);
    }

    /// <summary>The last state a receiver got for a user from the wire, and when (baselines read views from here).</summary>
    public (PresenceState State, int Status, long ReceivedAt) Wire(int server, int user)
        => _viewIds.TryGetValue(Key(server, user), out int v) ? (_views[v].State, _views[v].Status, _views[v].ReceivedAt) : (PresenceState.Unknown, 0, 0);

    public void NoteFirstTraffic(int from, int to)
    {
        if (from == World.Options.OutageServer && World.Options.HasOutage && Sim.Now >= World.OutageEndMs)
        {
            if (_firstTrafficAfterOutage < 0)
            {
                _firstTrafficAfterOutage = Sim.Now;
            }

            if (_firstTrafficTo.Length == 0)
            {
                _firstTrafficTo = Enumerable.Repeat(-1L, World.Servers.Length).ToArray();
                _peerRecoveredAt = Enumerable.Repeat(-1L, World.Servers.Length).ToArray();
            }

            if (_firstTrafficTo[to] < 0)
            {
                _firstTrafficTo[to] = Sim.Now;
            }
        }
    }

    /// <summary>
    /// Recovery per peer: for each peer the recovered server sent a transaction to, the time from the first one until every
    /// sampled view between the two holds; the worst peer. Null when some peer that got traffic did not recover in 30 min.
    /// </summary>
    public long? PeerRecoveryMs
    {
        get
        {
            long worst = 0;
            for (int p = 0; p < _firstTrafficTo.Length; p++)
            {
                if (_firstTrafficTo[p] < 0)
                {
                    continue;
                }

                if (_peerRecoveredAt[p] < 0)
                {
                    return null;
                }

                worst = Math.Max(worst, _peerRecoveredAt[p] - _firstTrafficTo[p]);
            }

            return worst;
        }
    }

    public long? RecoveryMs => _recoveredAt < 0 ? null : _firstTrafficAfterOutage < 0 ? 0 : Math.Max(0, _recoveredAt - _firstTrafficAfterOutage);

    public long? FirstTrafficAfterOutage => _firstTrafficAfterOutage < 0 ? null : _firstTrafficAfterOutage;

    /// <summary>Whether someone on the view's server is looking: always for room views; for list-only views, a list owner online.</summary>
    private bool Watched(int v, long t) => _listOwners[v].Length == 0 || _listOwners[v].Any(o => Reference.At(o, t).State != PresenceState.Offline);

    private bool Involves(int v, int server) => _viewServer[v] == server || World.ServerOf[_viewUser[v]] == server;

    private bool InOutage(int v, long from, long to)
        => World.Options.HasOutage && Involves(v, World.Options.OutageServer) && from < World.OutageEndMs && to >= World.OutageStartMs;

    private void Resolve(int v, long t)
    {
        ref var view = ref _views[v];
        var list = Reference.PerUser[_viewUser[v]];
        if (view.Next >= list.Count)
        {
            return;
        }

        int j = view.Next;
        while (j + 1 < list.Count && list[j + 1].T <= t)
        {
            j++;
        }

        for (int k = j; k >= view.Next && k > j - 32; k--)
        {
            var c = list[k];
            if (c.T > t)
            {
                continue;
            }

            if (c.State == view.State && c.Status == view.Status && (c.Prompt || c.Active == ActiveAt(view, t)))
            {
                for (int i = view.Next; i <= k; i++)
                {
                    if (!Watched(v, list[i].T))
                    {
                        continue;
                    }

                    if (Debug && DebugView < 0 && t - list[i].T > 300_000)
                    {
                        DebugView = v;
                        Console.WriteLine($"view {v}: server {_viewServer[v]} user {_viewUser[v]} (server {World.ServerOf[_viewUser[v]]}) staleness {(t - list[i].T) / 1000.0:F1} s; changes:");
                        foreach (var c2 in list)
                        {
                            Console.WriteLine($"  change t={c2.T / 1000.0:F1} {c2.State} status={c2.Status} active={c2.Active} prompt={c2.Prompt}");
                        }

                        foreach (var e in World.Trace.Where(e => e.User == _viewUser[v]))
                        {
                            Console.WriteLine($"  trace t={e.T / 1000.0:F1} {e.Kind} dev={e.Device} arg={e.Arg}");
                        }
                    }

                    Staleness.Add((t - list[i].T, list[i].Prompt, InOutage(v, list[i].T, t)));
                }

                view.Next = k + 1;
                return;
            }
        }
    }

    private bool ActiveAt(in View view, long t)
        => DeriveActive
            ? view.State == PresenceState.Online && view.LastActive != long.MinValue && t - view.LastActive < Reference.Granularity
            : view.Active;

    private void SampleViews(long t)
    {
        foreach (int v in _sample)
        {
            int user = _viewUser[v];
            if (!Reference.PresentSince(user, t, LostAfter) || InOutage(v, t - 60_000, t) || !Watched(v, t - LostAfter) || !Watched(v, t))
            {
                continue;
            }

            ViewSamples++;
            var (state, _) = Strategy.ReadView(_viewServer[v], user);
            if (state is PresenceState.Unknown or PresenceState.Offline)
            {
                if (Debug && LostSamples < 5)
                {
                    var wire = Wire(_viewServer[v], user);
                    bool viaRoom = World.RoomsOf[user].Any(r => !ExcludedRooms.Contains(World.RoomIds[r]) && World.Members[r].Any(m => World.ServerOf[m] == _viewServer[v]));
                    Console.WriteLine($"{Net.Describe(World.ServerOf[user], _viewServer[v])}; shares a room: {viaRoom}");
                    Console.WriteLine($"lost t={t / 1000.0:F0} view {v} server {_viewServer[v]} user {user} (server {World.ServerOf[user]}) reads {state}; truth {Reference.At(user, t).State}; wire {wire.State} received t={wire.ReceivedAt / 1000.0:F0}");
                    foreach (int o in _listOwners[v])
                    {
                        Console.WriteLine($"  list owner {o} (server {World.ServerOf[o]}): {string.Join(", ", World.Trace.Where(e => e.User == o && e.T <= t).Select(e => $"{e.T / 1000.0:F1} {e.Kind} d{e.Device}"))}");
                    }
                }

                LostSamples++;
                LostViews.Add(v);
            }
        }
    }

    private void CheckRecovery(long t)
    {
        int x = World.Options.OutageServer;
        var failing = new HashSet<int>();
        foreach (int v in _sample)
        {
            if (!Involves(v, x) || !Watched(v, t))
            {
                continue;
            }

            int peer = _viewServer[v] == x ? World.ServerOf[_viewUser[v]] : _viewServer[v];
            if (failing.Contains(peer))
            {
                continue;
            }

            // Holds the current state, or one at most a batch window (plus a second) old: a change made during the check is in flight.
            var (state, status) = Strategy.ReadView(_viewServer[v], _viewUser[v]);
            if (!Holds(_viewUser[v], t, state, status) && !Holds(_viewUser[v], t - RecentSlack, state, status)
                && !Reference.PerUser[_viewUser[v]].Any(c => c.T > t - RecentSlack && c.T <= t && Same(c, state, status)))
            {
                if (Debug && _recoveredAt < 0 && failing.Count == 0 && _firstTrafficAfterOutage >= 0 && ((t - _firstTrafficAfterOutage) % 60_000 < 1000 || t - _firstTrafficAfterOutage < 30_000))
                {
                    int u = _viewUser[v];
                    var wire = Wire(_viewServer[v], u);
                    Console.WriteLine($"recovery t={t / 1000.0:F0} (first traffic {_firstTrafficAfterOutage / 1000.0:F1}): view {v} server {_viewServer[v]} user {u} (server {World.ServerOf[u]}) reads {state}; truth {Reference.At(u, t).State} since {Reference.PerUser[u].LastOrDefault(c => c.T <= t).T / 1000.0:F1}; wire {wire.State} at {wire.ReceivedAt / 1000.0:F1}; list-only {_listOwners[v].Length > 0}; {Net.Describe(World.ServerOf[u], _viewServer[v])}");
                    Console.WriteLine($"  trace: {string.Join(", ", World.Trace.Where(e => e.User == u && e.T <= t && e.T > t - 1_500_000).Select(e => $"{e.T / 1000.0:F1} {e.Kind} d{e.Device} {e.Arg}"))}");
                    Console.WriteLine($"  changes: {string.Join(", ", Reference.PerUser[u].Where(c => c.T <= t && c.T > t - 1_500_000).Select(c => $"{c.T / 1000.0:F1} {c.State} a={c.Active}"))}");
                }

                failing.Add(peer);
            }
        }

        if (_recoveredAt < 0 && failing.Count == 0)
        {
            _recoveredAt = t;
        }

        for (int p = 0; p < _firstTrafficTo.Length; p++)
        {
            if (_firstTrafficTo[p] >= 0 && _firstTrafficTo[p] <= t && _peerRecoveredAt[p] < 0 && !failing.Contains(p))
            {
                _peerRecoveredAt[p] = t;
            }
        }
    }

    private const long RecentSlack = 11_000;

    public static bool Debug { get; } = Environment.GetEnvironmentVariable("SIM_DEBUG") == "1";

    public static int DebugView { get; set; } = -1;

    private static bool Same(Change truth, PresenceState state, int status)
    {
        bool gone = truth.State == PresenceState.Offline;
        bool shown = state is PresenceState.Offline or PresenceState.Unknown;
        return gone == shown && (gone || (state == truth.State && status == truth.Status));
    }

    private bool Holds(int user, long t, PresenceState state, int status) => Same(Reference.At(user, t), state, status);

    private struct View
    {
        public PresenceState State;
        public int Status;
        public bool Active;
        public long ReceivedAt;
        public long LastActive;
        public int Next;
    }
}
