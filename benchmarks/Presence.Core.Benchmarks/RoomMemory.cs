using Microsoft.Extensions.Time.Testing;

namespace Presence.Benchmarks;

/// <summary>
/// <c>--memory-rooms</c>: the engine's memory on a federated workload with rooms, per membership and per local user
/// (target: at most 1 KB per local user with rooms of up to 200 members), at a scale and at twice that scale, to show the
/// growth is linear (bytes per membership roughly constant). Memory is <see cref="GC.GetTotalMemory(bool)"/> after minus
/// before creating the engine: the membership view (the host's), the ID strings and the room IDs are built before the first
/// reading and are not counted.
/// </summary>
/// <remarks>
/// What the engine is taken through: every join is told to it (<see cref="IPresenceEngine.UserJoinedRoomAsync"/>, after the
/// view's <see cref="InMemoryMembershipView.Join"/>); every local user comes online (a heartbeat from one device) and every
/// remote server pushes its users online; then a fifth of the local users set themselves unavailable with a status and a
/// fifth of the remote users go unavailable, changes that fan out to the servers sharing their rooms (a discarding
/// transport); the clock moves past the batching windows so what was queued is sent. A second reading adds one
/// subscription per local user (a syncing client's feed) with one round of changes delivered and read.
/// </remarks>
internal static class RoomMemory
{
    /// <summary>The last engine measured: it must be gone before the next reading.</summary>
    private static WeakReference? s_previous;

    /// <summary>
    /// Blocks on an engine call. The report runs on the main thread throughout: continuing on the thread of an engine task
    /// (what <c>await</c> does) would leave that engine's frames on the stack, keeping it reachable into the next reading.
    /// </summary>
    private static void Wait(ValueTask task) => task.AsTask().GetAwaiter().GetResult();

    public static void Report(int scale)
    {
        Console.WriteLine($"Rooms workload per scale unit: {RoomWorkload.LocalUsersPerScale:N0} local users, {RoomWorkload.RemoteUsersPerScale:N0} remote users on {RoomWorkload.Servers} servers, {RoomWorkload.RoomsPerScale:N0} rooms of 2 to {RoomWorkload.LargestRoom} members");
        Measure(new RoomWorkload(300, 300, 300), "Warm-up (JIT, statics; not a result)");
        var first = Measure(scale);
        var second = Measure(2 * scale);
        Console.WriteLine($"Linear growth: bytes per membership at {2 * scale}x / at {scale}x = {second.PerMembership / first.PerMembership:F2}; bytes per local user {second.PerLocalUser / first.PerLocalUser:F2}");
    }

    private static Result Measure(int scale) => Measure(new RoomWorkload(scale), $"Scale {scale}x");

    private static Result Measure(RoomWorkload workload, string title)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var transport = new CountingTransport();
        var store = new DiscardingStore();
        var options = new PresenceOptions { ServerName = RoomWorkload.Local };

        long before = GC.GetTotalMemory(forceFullCollection: true);
        if (s_previous is { IsAlive: true })
        {
            Console.WriteLine("  Warning: the previous engine is still reachable; this reading is not reliable.");
        }

        var engine = PresenceEngine.Create(options, workload.View, store, clock, transport: transport);
        Wait(engine.StartAsync());
        foreach (var (room, user) in workload.Joins)
        {
            Wait(engine.UserJoinedRoomAsync(user, room));
        }

        // Everyone online.
        for (int i = 0; i < workload.Locals.Length; i++)
        {
            engine.Heartbeat(workload.Locals[i], workload.Devices[i]);
        }

        PushRemote(engine, workload, clock, PresenceState.Online, everyNth: 1);

        // Changes that fan out: a fifth of each side goes unavailable.
        for (int i = 0; i < workload.Locals.Length; i += 5)
        {
            engine.SetPresence(workload.Locals[i], workload.Devices[i], PresenceState.Unavailable, "away");
        }

        PushRemote(engine, workload, clock, PresenceState.Unavailable, everyNth: 5);
        Drain(engine, workload, store, clock);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        long held = ((Presence.Internal.DefaultPresenceEngine)engine).UsersHeld;

        // Plus one feed per local user, with one round of changes delivered and read.
        var feeds = new IPresenceSubscription[workload.Locals.Length];
        for (int i = 0; i < feeds.Length; i++)
        {
            feeds[i] = engine.SubscribeAsync(workload.Locals[i]).AsTask().GetAwaiter().GetResult();
        }

        for (int i = 0; i < workload.Locals.Length; i += 5)
        {
            engine.SetPresence(workload.Locals[i], workload.Devices[i], PresenceState.Online, null);
        }

        Drain(engine, workload, store, clock);
        long batches = 0;
        foreach (var feed in feeds)
        {
            while (feed.TryRead(out _))
            {
                batches++;
            }
        }

        long afterFeeds = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(feeds);

        var result = new Result(workload, after - before, held);
        Console.WriteLine();
        Console.WriteLine($"{title}: {workload.Locals.Length:N0} local users, {workload.Remotes.Length:N0} remote users on {RoomWorkload.Servers} servers, {workload.RoomIds.Length:N0} rooms ({workload.SizeSummary()})");
        Console.WriteLine($"  Memberships: {workload.Joins.Count:N0} ({workload.LocalMemberships:N0} of local users, {workload.LocalMemberships / (double)workload.Locals.Length:F1} rooms per local user on average); users held by the engine: {held:N0}");
        Console.WriteLine($"  Engine memory: {result.Bytes / 1024.0 / 1024.0:F2} MB = {result.PerMembership:F1} bytes per membership, {result.PerLocalUser:F1} bytes per local user (target <= 1024), {result.Bytes / (double)held:F1} bytes per user held");
        Console.WriteLine($"  With one subscription per local user: +{(afterFeeds - after) / (double)feeds.Length:F1} bytes per subscription ({batches:N0} batches read); {transport.Messages:N0} messages ({transport.Entries:N0} entries) sent to other servers");
        foreach (var feed in feeds)
        {
            Wait(feed.DisposeAsync());
        }

        Wait(engine.DisposeAsync());
        s_previous = new WeakReference(engine);
        GC.KeepAlive(workload);
        return result;
    }

    /// <summary>Each remote server pushes the state of every <paramref name="everyNth"/>th of its users, in messages of 500 at most.</summary>
    private static void PushRemote(IPresenceEngine engine, RoomWorkload workload, FakeTimeProvider clock, PresenceState state, int everyNth)
    {
        var now = clock.GetUtcNow();
        foreach (var (server, users) in workload.RemotesByServer)
        {
            var push = new List<PresenceSnapshot>();
            for (int i = 0; i < users.Count; i += everyNth)
            {
                push.Add(new PresenceSnapshot(users[i], state, null, now, state == PresenceState.Online, DeviceKinds.Standard));
                if (push.Count == 500)
                {
                    Wait(engine.ReceiveAsync(server, new PresenceMessage(push)));
                    push = [];
                }
            }

            if (push.Count > 0)
            {
                Wait(engine.ReceiveAsync(server, new PresenceMessage(push)));
            }
        }
    }

    /// <summary>Background reads and saves done, then the clock past both batching windows so queued changes are sent.</summary>
    private static void Drain(IPresenceEngine engine, RoomWorkload workload, DiscardingStore store, FakeTimeProvider clock)
    {
        Settle.Wait(engine, workload.Locals[^1], store);
        var internals = (Presence.Internal.DefaultPresenceEngine)engine;
        while (internals.HasBackgroundWork)
        {
            Thread.Sleep(10);
        }

        var window = PresenceOptions.DefaultClientBatchWindow > PresenceFederationOptions.DefaultBatchWindow ? PresenceOptions.DefaultClientBatchWindow : PresenceFederationOptions.DefaultBatchWindow;
        clock.Advance(window + TimeSpan.FromSeconds(1)); // well within the sync timeout: nobody drops
        Settle.WaitForQuietStore(store);
    }

    private sealed record Result(RoomWorkload Workload, long Bytes, long Held)
    {
        public double PerMembership => Bytes / (double)Workload.Joins.Count;

        public double PerLocalUser => Bytes / (double)Workload.Locals.Length;
    }

    private sealed class CountingTransport : IPresenceTransport
    {
        private long _messages;
        private long _entries;

        public long Messages => Interlocked.Read(ref _messages);

        public long Entries => Interlocked.Read(ref _entries);

        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _messages);
            Interlocked.Add(ref _entries, message.EntryCount);
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// Local and remote users, rooms and memberships for <see cref="RoomMemory"/>, from a fixed seed. Room sizes are skewed
/// (many direct chats, few large rooms): 55 % have 2 members, 25 % 3–10, 12 % 11–30, 6 % 31–100 and 2 % 200. Each room
/// has a local member (the host only knows rooms its users are in); the others are drawn from all users, local and remote
/// alike. Remote users are spread over 30 servers, skewed (the first servers are the large ones).
/// </summary>
internal sealed class RoomWorkload
{
    public const int LocalUsersPerScale = 3_000;
    public const int RemoteUsersPerScale = 3_000;
    public const int RoomsPerScale = 3_000;
    public const int Servers = 30;
    public const int LargestRoom = 200;

    public static readonly ServerName Local = ServerName.Parse("example.org");

    public RoomWorkload(int scale)
        : this(LocalUsersPerScale * scale, RemoteUsersPerScale * scale, RoomsPerScale * scale)
    {
    }

    public RoomWorkload(int locals, int remotes, int rooms)
    {
        var random = new Random(8_675_309);
        Locals = new UserId[locals];
        Devices = new string[Locals.Length];
        for (int i = 0; i < Locals.Length; i++)
        {
            Locals[i] = UserId.Parse($"@local{i}:example.org");
            Devices[i] = $"DEVICE{i}";
        }

        var servers = new ServerName[Servers];
        for (int s = 0; s < Servers; s++)
        {
            servers[s] = ServerName.Parse($"remote{s}.example");
        }

        Remotes = new UserId[remotes];
        var byServer = new Dictionary<ServerName, List<UserId>>();
        for (int i = 0; i < Remotes.Length; i++)
        {
            double u = random.NextDouble();
            var server = servers[(int)(Servers * u * u)];
            Remotes[i] = UserId.Parse($"@remote{i}:{server.Value}");
            if (!byServer.TryGetValue(server, out var list))
            {
                byServer[server] = list = [];
            }

            list.Add(Remotes[i]);
        }

        RemotesByServer = byServer;
        RoomIds = new string[rooms];
        var members = new HashSet<UserId>();
        for (int r = 0; r < RoomIds.Length; r++)
        {
            RoomIds[r] = $"!room{r}:example.org";
            int size = RoomSize(random);
            members.Clear();
            members.Add(Locals[random.Next(Locals.Length)]);
            while (members.Count < size)
            {
                int pick = random.Next(Locals.Length + Remotes.Length);
                members.Add(pick < Locals.Length ? Locals[pick] : Remotes[pick - Locals.Length]);
            }

            foreach (var member in members)
            {
                View.Join(RoomIds[r], member);
                Joins.Add((RoomIds[r], member));
                if (member.IsOn(Local))
                {
                    LocalMemberships++;
                }
            }

            Sizes.Add(size);
        }
    }

    public UserId[] Locals { get; }

    public string[] Devices { get; }

    public UserId[] Remotes { get; }

    public IReadOnlyDictionary<ServerName, List<UserId>> RemotesByServer { get; }

    public string[] RoomIds { get; }

    /// <summary>Every membership, in the order the engine is told of them.</summary>
    public List<(string Room, UserId User)> Joins { get; } = [];

    public int LocalMemberships { get; }

    public InMemoryMembershipView View { get; } = new();

    private List<int> Sizes { get; } = [];

    public string SizeSummary()
    {
        int dms = Sizes.Count(size => size == 2);
        int large = Sizes.Count(size => size == LargestRoom);
        return $"{dms:N0} of 2 members, {large:N0} of {LargestRoom}, mean {Sizes.Average():F1}";
    }

    private static int RoomSize(Random random)
    {
        int bucket = random.Next(100);
        return bucket switch
        {
            < 55 => 2,
            < 80 => random.Next(3, 11),
            < 92 => random.Next(11, 31),
            < 98 => random.Next(31, 101),
            _ => LargestRoom,
        };
    }
}
