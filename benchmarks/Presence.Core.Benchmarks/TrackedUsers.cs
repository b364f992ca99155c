using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// User and device ID strings for <c>@user0000000:example.org</c> … , created apart from any engine: the host holds them
/// anyway, so memory reports can measure them separately from the engine's own cost.
/// </summary>
internal sealed class UserIds
{
    public UserIds(int count)
    {
        Users = new UserId[count];
        Devices = new string[count];
        for (int i = 0; i < count; i++)
        {
            Users[i] = UserId.Parse($"@user{i:D7}:example.org");
            Devices[i] = $"DEVICE{i:D7}";
        }
    }

    public UserId[] Users { get; }

    public string[] Devices { get; }

    public int Count => Users.Length;
}

/// <summary>An engine tracking local users (one million unless told otherwise), each with one connected device.</summary>
internal sealed class TrackedUsers
{
    public const int Count = 1_000_000;

    public TrackedUsers(TimeProvider clock, IPresenceStore? store = null)
        : this(new UserIds(Count), clock, store)
    {
    }

    /// <param name="ids">The users (created first, so their strings can be measured apart).</param>
    /// <param name="clock">The engine's clock.</param>
    /// <param name="store">The store; a <see cref="DiscardingStore"/> when <see langword="null"/>.</param>
    /// <param name="shardCount">The engine's <see cref="PresenceOptions.ShardCount"/> (0: the default, eight per processor).</param>
    public TrackedUsers(UserIds ids, TimeProvider clock, IPresenceStore? store = null, int shardCount = 0)
    {
        Ids = ids;
        Store = store ?? new DiscardingStore();
        Engine = PresenceEngine.Create(new PresenceOptions { ServerName = ServerName.Parse("example.org"), ShardCount = shardCount }, new InMemoryMembershipView(), Store, clock);
    }

    public UserIds Ids { get; }

    public UserId[] Users => Ids.Users;

    public string[] Devices => Ids.Devices;

    public int Size => Ids.Count;

    public IPresenceStore Store { get; }

    public IPresenceEngine Engine { get; }

    /// <summary>The engine's implementation, for internal counters (<see cref="DefaultPresenceEngine.UsersHeld"/>).</summary>
    public DefaultPresenceEngine Internal => (DefaultPresenceEngine)Engine;

    public void ConnectAll()
    {
        Engine.StartAsync().AsTask().GetAwaiter().GetResult();
        for (int i = 0; i < Size; i++)
        {
            Engine.Heartbeat(Users[i], Devices[i]);
        }
    }

    /// <summary>
    /// Waits until the background work the connections started is over: every user's stored record read (the store is not
    /// instant, like a database, so each new user is read in the background) and the write-behind queue drained. Measured
    /// iterations and memory readings then see the steady state, not the tail of the set-up.
    /// </summary>
    public void WaitUntilSettled() => Settle.Wait(Engine, Users[^1], Store);
}

/// <summary>Waiting for an engine's background work (store reads, write-behind) after a burst of inputs.</summary>
internal static class Settle
{
    /// <summary>
    /// Reads of new users' records run in one loop, in the order the users were created: once the last-created user is loaded,
    /// every earlier one is too. <see cref="IPresenceEngine.GetPresenceAsync"/> of a user whose record is still being read waits
    /// for it. Then waits until the store has seen no save for a while (the write-behind loop has drained its queue).
    /// </summary>
    public static void Wait(IPresenceEngine engine, UserId lastCreated, IPresenceStore store)
    {
        engine.GetPresenceAsync(lastCreated, lastCreated).AsTask().GetAwaiter().GetResult();
        if (store is DiscardingStore counting)
        {
            WaitForQuietStore(counting);
        }
    }

    /// <summary>Returns once no record has been saved for 200 ms (the write-behind loop drains in well under that per batch).</summary>
    public static void WaitForQuietStore(DiscardingStore store)
    {
        long last = -1;
        int quiet = 0;
        while (quiet < 4)
        {
            long saved = store.Saved;
            quiet = saved == last ? quiet + 1 : 0;
            last = saved;
            Thread.Sleep(50);
        }
    }
}

/// <summary>
/// A store that keeps nothing, so measurements show the engine's own cost (a real store is a database). Like a database it
/// is not instant: the engine reads new users through <see cref="LoadAsync"/> in the background. Counts what it was given.
/// </summary>
internal sealed class DiscardingStore : IPresenceStore
{
    private long _saved;

    /// <summary>Gets how many records were saved so far.</summary>
    public long Saved => Interlocked.Read(ref _saved);

    public ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _saved, records.Count);
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyList<PresenceRecord>>([]);
}

/// <summary>Sizes of the benchmarks, reduced for a quick check through the <c>PRESENCE_BENCH_USERS</c> environment variable.</summary>
internal static class BenchmarkSize
{
    /// <summary>The environment variable that overrides <see cref="Users"/> (BenchmarkDotNet's child processes inherit it).</summary>
    public const string UsersVariable = "PRESENCE_BENCH_USERS";

    /// <summary>Gets the number of tracked users: <c>PRESENCE_BENCH_USERS</c> when set, else one million.</summary>
    public static int Users => int.TryParse(Environment.GetEnvironmentVariable(UsersVariable), out int users) && users > 0 ? users : TrackedUsers.Count;
}
