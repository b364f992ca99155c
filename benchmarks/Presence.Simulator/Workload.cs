namespace Presence.Simulator;

/// <summary>The workload's knobs; every one has a command-line flag (see <see cref="Program"/>).</summary>
internal sealed class WorkloadOptions
{
    public int Seed { get; set; } = 42;

    public int Servers { get; set; } = 30;

    public int Users { get; set; } = 3000;

    public TimeSpan Duration { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Zipf exponent of users per server.</summary>
    public double Skew { get; set; } = 1.0;

    /// <summary>Big rooms (thousands of members over most servers); sizes as fractions of all users.</summary>
    public double[] BigRooms { get; set; } = [0.8, 0.55, 0.35];

    /// <summary>Share of humans with a second account on another server.</summary>
    public double MultiAccountShare { get; set; } = 0.05;

    /// <summary>Share of users with a presence list.</summary>
    public double ListShare { get; set; } = 0.10;

    /// <summary>Server made unreachable (index), and when.</summary>
    public int OutageServer { get; set; } = 5;

    public TimeSpan OutageStart { get; set; } = TimeSpan.FromMinutes(120);

    public TimeSpan OutageLength { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>One-way delivery plus acknowledgement of a transaction.</summary>
    public TimeSpan Latency { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long one /sync long-poll lasts.</summary>
    public TimeSpan PollLength { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many remote views are sampled for "views lost" (every <see cref="SampleEvery"/>).</summary>
    public int ViewSample { get; set; } = 20_000;

    public TimeSpan SampleEvery { get; set; } = TimeSpan.FromMinutes(1);

    public bool HasOutage => OutageLength > TimeSpan.Zero && OutageServer >= 0 && OutageServer < Servers;
}

/// <summary>What clients do, one entry per action, in time order (milliseconds from the start).</summary>
internal enum TraceKind : byte
{
    /// <summary>A device starts syncing (its first long-poll).</summary>
    DeviceOn,

    /// <summary>A device's last long-poll ends and no other follows (silent disconnect, or the start of a blip).</summary>
    DeviceGone,

    /// <summary>The client logs out (the device is dropped at once).</summary>
    Logout,

    /// <summary>The user sends a chat message in a room (activity, and a transaction to every other server of the room).</summary>
    Chat,

    /// <summary>The user sets presence explicitly (state and status message).</summary>
    SetStatus,
}

internal readonly record struct TraceEvent(long T, TraceKind Kind, int User, int Device, int Arg)
{
    public static int StatusArg(PresenceState state, int status) => (status * 8) + (int)state;

    public PresenceState SetState => (PresenceState)(Arg & 7);

    public int SetStatusId => Arg >> 3;
}

/// <summary>The federation: servers, users, rooms, lists and the client trace. Generated once per seed, replayed for every strategy.</summary>
internal sealed class World
{
    public const int DevicesPerUser = 2;

    public required WorkloadOptions Options { get; init; }

    public required ServerName[] Servers { get; init; }

    public required UserId[] Users { get; init; }

    public required int[] ServerOf { get; init; }

    public required string[] RoomIds { get; init; }

    public required int[][] Members { get; init; }

    public required bool[] IsBig { get; init; }

    public required int[][] RoomsOf { get; init; }

    /// <summary>Accepted presence-list entries: (owner, target).</summary>
    public required (int Owner, int Target)[] Lists { get; init; }

    public required bool[] Mobile { get; init; }

    public required string?[] StatusTexts { get; init; }

    public required TraceEvent[] Trace { get; init; }

    public required int Humans { get; init; }

    public long DurationMs => (long)Options.Duration.TotalMilliseconds;

    public long OutageStartMs => Options.HasOutage ? (long)Options.OutageStart.TotalMilliseconds : long.MaxValue;

    public long OutageEndMs => Options.HasOutage ? (long)(Options.OutageStart + Options.OutageLength).TotalMilliseconds : long.MaxValue;

    public bool LinkDown(int a, int b, long t)
        => Options.HasOutage && (a == Options.OutageServer || b == Options.OutageServer) && t >= OutageStartMs && t < OutageEndMs;

    /// <summary>
    /// Which servers are owed each user's presence: the servers of everyone sharing a room that shares presence with the
    /// user, and of the owners of lists the user is on. The same answer for every strategy.
    /// </summary>
    public int[][] Interest(ISet<string> excluded)
    {
        var sets = new HashSet<int>[Users.Length];
        for (int u = 0; u < Users.Length; u++)
        {
            sets[u] = [];
        }

        for (int r = 0; r < Members.Length; r++)
        {
            if (excluded.Contains(RoomIds[r]))
            {
                continue;
            }

            var servers = Members[r].Select(m => ServerOf[m]).Distinct().ToArray();
            foreach (int m in Members[r])
            {
                foreach (int s in servers)
                {
                    if (s != ServerOf[m])
                    {
                        sets[m].Add(s);
                    }
                }
            }
        }

        foreach (var (owner, target) in Lists)
        {
            if (ServerOf[owner] != ServerOf[target])
            {
                sets[target].Add(ServerOf[owner]);
            }
        }

        return sets.Select(s => s.Order().ToArray()).ToArray();
    }

    public int[] ServersOfRoom(int room) => Members[room].Select(m => ServerOf[m]).Distinct().Order().ToArray();

    public static World Generate(WorkloadOptions o)
    {
        var rng = new Random(o.Seed);
        var servers = Enumerable.Range(0, o.Servers).Select(i => ServerName.Parse($"s{i:00}.example")).ToArray();

        // Users per server: Zipf-like, at least 3 each.
        double[] weights = Enumerable.Range(0, o.Servers).Select(i => 1.0 / Math.Pow(i + 1, o.Skew)).ToArray();
        double total = weights.Sum();
        int[] perServer = weights.Select(w => Math.Max(3, (int)Math.Round(o.Users * w / total))).ToArray();
        int diff = o.Users - perServer.Sum();
        perServer[0] = Math.Max(3, perServer[0] + diff);
        var serverOf = new List<int>();
        for (int s = 0; s < o.Servers; s++)
        {
            serverOf.AddRange(Enumerable.Repeat(s, perServer[s]));
        }

        int userCount = serverOf.Count;
        var users = new UserId[userCount];
        var counters = new int[o.Servers];
        for (int u = 0; u < userCount; u++)
        {
            users[u] = UserId.Create($"u{counters[serverOf[u]]++}", servers[serverOf[u]]);
        }

        // Humans: most have one account; some have a second one on another server (paired with a user there).
        var humanOf = Enumerable.Range(0, userCount).ToArray();
        var twin = Enumerable.Repeat(-1, userCount).ToArray();
        var order = Shuffle(Enumerable.Range(0, userCount).ToArray(), rng);
        int pairs = (int)(userCount * o.MultiAccountShare / 2);
        for (int i = 0, made = 0; i + 1 < order.Length && made < pairs; i++)
        {
            int a = order[i];
            if (twin[a] >= 0)
            {
                continue;
            }

            for (int j = i + 1; j < order.Length; j++)
            {
                int b = order[j];
                if (twin[b] < 0 && serverOf[b] != serverOf[a])
                {
                    twin[a] = b;
                    twin[b] = a;
                    humanOf[b] = a;
                    made++;
                    break;
                }
            }
        }

        var mobile = Enumerable.Range(0, userCount).Select(_ => rng.NextDouble() < 0.4).ToArray();

        // Rooms: small (2-10, mostly one server plus friends elsewhere), medium (20-150), big (thousands, most servers).
        var members = new List<int[]>();
        var big = new List<bool>();
        int small = userCount / 3;
        for (int r = 0; r < small; r++)
        {
            int creator = rng.Next(userCount);
            int size = rng.Next(2, 11);
            var set = new HashSet<int> { creator };
            while (set.Count < size)
            {
                int candidate = rng.NextDouble() < 0.6 ? SameServer(creator) : rng.Next(userCount);
                set.Add(candidate);
            }

            members.Add([.. set.Order()]);
            big.Add(false);
        }

        int medium = Math.Max(1, userCount / 75);
        for (int r = 0; r < medium; r++)
        {
            int size = Math.Min(userCount, rng.Next(20, 151));
            members.Add([.. Shuffle(Enumerable.Range(0, userCount).ToArray(), rng).Take(size).Order()]);
            big.Add(false);
        }

        foreach (double share in o.BigRooms)
        {
            int size = Math.Min(userCount, (int)(userCount * share));
            members.Add([.. Shuffle(Enumerable.Range(0, userCount).ToArray(), rng).Take(size).Order()]);
            big.Add(true);
        }

        // The two accounts of a human share a direct room.
        for (int u = 0; u < userCount; u++)
        {
            if (twin[u] > u)
            {
                members.Add([u, twin[u]]);
                big.Add(false);
            }
        }

        var roomIds = Enumerable.Range(0, members.Count).Select(r => big[r] ? $"!big{r}:s00.example" : $"!r{r}:{servers[serverOf[members[r][0]]]}").ToArray();
        var roomsOf = new List<int>[userCount];
        for (int u = 0; u < userCount; u++)
        {
            roomsOf[u] = [];
        }

        for (int r = 0; r < members.Count; r++)
        {
            foreach (int m in members[r])
            {
                roomsOf[m].Add(r);
            }
        }

        // Presence lists: some users watch 3-8 others, half of them on other servers; all accepted.
        var lists = new HashSet<(int, int)>();
        for (int u = 0; u < userCount; u++)
        {
            if (rng.NextDouble() >= o.ListShare)
            {
                continue;
            }

            int n = rng.Next(3, 9);
            for (int k = 0; k < n; k++)
            {
                int target = rng.NextDouble() < 0.5 ? SameServer(u) : rng.Next(userCount);
                if (target != u)
                {
                    lists.Add((u, target));
                }
            }
        }

        string?[] statusTexts = [null, "in a meeting", "lunch", "working from home", "on call", "travelling", "focus time", "back at 3"];
        var trace = new List<TraceEvent>();
        int humans = 0;
        long end = (long)o.Duration.TotalMilliseconds;
        for (int u = 0; u < userCount; u++)
        {
            if (humanOf[u] != u)
            {
                continue; // the second account acts with the first
            }

            humans++;
            GenerateHuman(u, twin[u], rng, end, o, mobile, roomsOf, members, big, trace);
        }

        trace.Sort((a, b) => a.T != b.T ? a.T.CompareTo(b.T) : a.User != b.User ? a.User.CompareTo(b.User) : a.Device.CompareTo(b.Device));

        // Chat and explicit settings come from a connected client only: drop those that fall in a disconnect.
        var connected = new bool[userCount * DevicesPerUser];
        trace.RemoveAll(e =>
        {
            int slot = (e.User * DevicesPerUser) + e.Device;
            switch (e.Kind)
            {
                case TraceKind.DeviceOn:
                    connected[slot] = true;
                    return false;
                case TraceKind.DeviceGone or TraceKind.Logout:
                    connected[slot] = false;
                    return false;
                default:
                    return !connected[slot];
            }
        });
        return new World
        {
            Options = o,
            Servers = servers,
            Users = users,
            ServerOf = [.. serverOf],
            RoomIds = roomIds,
            Members = [.. members],
            IsBig = [.. big],
            RoomsOf = roomsOf.Select(l => l.ToArray()).ToArray(),
            Lists = [.. lists.Order()],
            Mobile = mobile,
            StatusTexts = statusTexts,
            Trace = [.. trace],
            Humans = humans,
        };

        int SameServer(int user)
        {
            int s = serverOf[user];
            int first = serverOf.IndexOf(s);
            return first + rng.Next(perServer[s]);
        }
    }

    private static void GenerateHuman(int u, int twin, Random rng, long end, WorkloadOptions o, bool[] mobile, List<int>[] roomsOf, List<int[]> members, List<bool> big, List<TraceEvent> trace)
    {
        const long Min = 60_000;
        if (rng.NextDouble() < 0.12)
        {
            return; // never online in this window
        }

        // Sessions: waves of logins (start of the day, after lunch, late afternoon) and a uniform rest.
        int sessions = 1 + (rng.NextDouble() < 0.35 ? 1 : 0) + (rng.NextDouble() < 0.1 ? 1 : 0);
        long cursor = 0;
        for (int s = 0; s < sessions && cursor < end; s++)
        {
            double wave = rng.NextDouble();
            long start = s == 0
                ? wave < 0.45 ? (long)(rng.NextDouble() * 15 * Min) : wave < 0.65 ? (60 * Min) + (long)(rng.NextDouble() * 15 * Min) : wave < 0.85 ? (150 * Min) + (long)(rng.NextDouble() * 15 * Min) : (long)(rng.NextDouble() * end)
                : cursor + (long)(Exp(rng, 40) * Min);
            start = Math.Max(start, cursor);
            long length = Math.Max(5 * Min, (long)(Exp(rng, 70) * Min));
            long stop = Math.Min(end, start + length);
            if (start >= end)
            {
                break;
            }

            foreach (int account in twin >= 0 ? new[] { u, twin } : [u])
            {
                long skew = account == u ? 0 : rng.Next(0, 20_000);
                Session(account, start + skew, Math.Min(end, stop + skew), account == u);
            }

            cursor = stop + (5 * Min);
        }

        void Session(int user, long start, long stop, bool primary)
        {
            Online(user, 0, start, stop, rng.NextDouble() < 0.5);
            if (mobile[user])
            {
                // A phone that connects now and then during the session.
                long t = start + (long)(Exp(rng, 30) * Min);
                while (t < stop)
                {
                    long len = Math.Max(Min, (long)(Exp(rng, 8) * Min));
                    Online(user, 1, t, Math.Min(stop, t + len), rng.NextDouble() < 0.3);
                    t += len + (long)(Exp(rng, 40) * Min);
                }
            }

            // Activity: chat bursts separated by idling; the second account chats less.
            var rooms = roomsOf[user];
            long at = start + rng.Next(0, 30_000);
            while (at < stop && rooms.Count > 0)
            {
                long burstEnd = Math.Min(stop, at + (long)(Exp(rng, 4) * Min));
                while (at < burstEnd)
                {
                    if (primary || rng.NextDouble() < 0.3)
                    {
                        int room = PickRoom(rooms);
                        trace.Add(new TraceEvent(at, TraceKind.Chat, user, 0, room));
                    }

                    at += Math.Max(2_000, (long)(Exp(rng, 0.5) * Min));
                }

                at += (long)(Exp(rng, 9) * Min); // idle: past five minutes the user turns unavailable
            }

            // Status messages and explicit away.
            if (rng.NextDouble() < 0.2)
            {
                long t = start + (long)(rng.NextDouble() * (stop - start));
                trace.Add(new TraceEvent(t, TraceKind.SetStatus, user, 0, TraceEvent.StatusArg(PresenceState.Online, rng.Next(1, 8))));
            }

            if (rng.NextDouble() < 0.1 && stop - start > 20 * Min)
            {
                long t = start + (long)(rng.NextDouble() * (stop - start - (15 * Min)));
                trace.Add(new TraceEvent(t, TraceKind.SetStatus, user, 0, TraceEvent.StatusArg(PresenceState.Unavailable, 0)));
                trace.Add(new TraceEvent(t + (5 * Min) + rng.Next(0, 5 * 60_000), TraceKind.SetStatus, user, 0, TraceEvent.StatusArg(PresenceState.Online, 0)));
            }
        }

        void Online(int user, int device, long start, long stop, bool logout)
        {
            // Blips: short disconnects (network changes) of 5-90 s, about one an hour.
            long t = start;
            while (true)
            {
                long next = Boundary(t, t + (long)(Exp(rng, 60) * Min));
                if (next >= stop - Min)
                {
                    break;
                }

                trace.Add(new TraceEvent(t, TraceKind.DeviceOn, user, device, 0));
                trace.Add(new TraceEvent(next, TraceKind.DeviceGone, user, device, 0));
                t = next + rng.Next(5_000, 90_000);
            }

            trace.Add(new TraceEvent(t, TraceKind.DeviceOn, user, device, 0));
            stop = logout ? stop : Boundary(t, stop);
            if (stop < end)
            {
                trace.Add(new TraceEvent(stop, logout ? TraceKind.Logout : TraceKind.DeviceGone, user, device, 0));
            }
        }

        // A client that vanishes does so when its long-poll ends (the server sees the poll end, then nothing).
        long Boundary(long first, long at)
        {
            long poll = (long)o.PollLength.TotalMilliseconds;
            return first + ((at - first + poll - 1) / poll * poll);
        }

        int PickRoom(List<int> rooms)
        {
            for (int tries = 0; tries < 4; tries++)
            {
                int r = rooms[rng.Next(rooms.Count)];
                if (!big[r] || rng.NextDouble() < 0.05)
                {
                    return r;
                }
            }

            return rooms[rng.Next(rooms.Count)];
        }
    }

    private static double Exp(Random rng, double mean) => -mean * Math.Log(1 - rng.NextDouble());

    private static int[] Shuffle(int[] items, Random rng)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }

        return items;
    }
}
