using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// <c>--memory</c>: the managed memory the engine holds per tracked local user (one connected device each, one million
/// users unless <c>--users N</c>; target at most 150 bytes), measured with <see cref="GC.GetTotalMemory(bool)"/> before and
/// after, once the users' records are read and saved. The user and device ID strings are created before the first reading:
/// the host holds them anyway, so they are reported apart from the engine's own cost (and with it). Also: the default
/// in-memory store on top, watchdog memory per peer, and how many messages the batching path sends.
/// </summary>
internal static class MemoryPerUser
{
    /// <param name="count">How many users to track (one million for the reported figure; fewer for a quick check).</param>
    public static void Report(int count = TrackedUsers.Count)
    {
        // Watchdogs: memory per tracked peer (names created first: the host holds them anyway).
        var names = WatchdogBenchmarks.Names();
        long beforeWatchdogs = GC.GetTotalMemory(forceFullCollection: true);
        var watchdogs = new WatchdogManager(ServerName.Parse("origin.example"), TimeSpan.TicksPerMinute, TimeSpan.TicksPerHour, 20 * TimeSpan.TicksPerMinute);
        foreach (var name in names)
        {
            watchdogs.Track(name, 0);
        }

        long afterWatchdogs = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"Watchdog memory per peer: {(afterWatchdogs - beforeWatchdogs) / (double)names.Length:F1} bytes ({watchdogs.Count:N0} peers)");
        GC.KeepAlive(watchdogs);
        GC.KeepAlive(names);

        var clock = new FrozenTimeProvider();
        long beforeIds = GC.GetTotalMemory(forceFullCollection: true);
        var ids = new UserIds(count);
        long afterIds = GC.GetTotalMemory(forceFullCollection: true);
        var users = new TrackedUsers(ids, clock);
        users.ConnectAll();
        users.WaitUntilSettled(); // records read and saved: the steady state, not the set-up's queues
        long afterEngine = GC.GetTotalMemory(forceFullCollection: true);

        double idBytes = (afterIds - beforeIds) / (double)count;
        double engine = (afterEngine - afterIds) / (double)count;
        Console.WriteLine($"Tracked users: {count:N0}, one connected device each ({users.Internal.UsersHeld:N0} held)");
        Console.WriteLine($"Engine memory per tracked user: {engine:F1} bytes (excluding ID strings; target <= 150)");
        Console.WriteLine($"Engine memory per tracked user with the ID strings: {engine + idBytes:F1} bytes");
        Console.WriteLine($"User and device ID strings (held by the host): {idBytes:F1} bytes per user");
        Console.WriteLine($"  (one user's slot in the table is {Unsafe.SizeOf<UserSlot>()} bytes; index entries are 8 bytes, the table at most half full)");
        users.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        GC.KeepAlive(users);

        // The same users on the default in-memory store: what the store adds on top.
        var store = new InMemoryPresenceStore();
        long beforeStore = GC.GetTotalMemory(forceFullCollection: true);
        var stored = new TrackedUsers(ids, clock, store);
        stored.ConnectAll();
        stored.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult(); // flushes every record
        long afterStore = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"Engine plus the default InMemoryPresenceStore, per user: {(afterStore - beforeStore) / (double)count:F1} bytes excluding ID strings ({store.Count:N0} records saved)");
        GC.KeepAlive(stored);
        GC.KeepAlive(ids);

        // Batching: messages out after one window, for one million changes over 1,000 destinations.
        var stepping = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var transport = new CountingTransport();
        var (snapshots, peers) = BatchingBenchmarks.Population();
        var scheduler = BatchingBenchmarks.CreateScheduler(stepping, transport);
        BatchingBenchmarks.Run(scheduler, snapshots, peers);
        stepping.Advance(PresenceFederationOptions.DefaultBatchWindow);
        Console.WriteLine($"Batching: {BatchingBenchmarks.Changes:N0} changes for {BatchingBenchmarks.Peers:N0} destinations -> {transport.Messages:N0} messages, {transport.Entries:N0} entries after one window");
    }

    private sealed class CountingTransport : IPresenceTransport
    {
        public int Messages;
        public long Entries;

        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
        {
            Messages++;
            Entries += message.EntryCount;
            return ValueTask.CompletedTask;
        }
    }
}
