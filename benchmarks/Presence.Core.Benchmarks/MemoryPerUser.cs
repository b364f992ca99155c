using Microsoft.Extensions.Time.Testing;
using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// Measures the managed memory the engine holds per tracked user (one connected device each). The user and
/// device ID strings are created before the first reading: the host holds them anyway, so they are reported
/// apart from the engine's own cost.
/// </summary>
internal static class MemoryPerUser
{
    public static void Report()
    {
        // Watchdogs: memory per tracked peer (names created first: the host holds them anyway).
        var names = WatchdogBenchmarks.Names();
        long beforeWatchdogs = GC.GetTotalMemory(forceFullCollection: true);
        var watchdogs = new WatchdogManager(TimeSpan.TicksPerMinute, TimeSpan.TicksPerHour);
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
        var users = new TrackedUsers(clock);
        long afterIds = GC.GetTotalMemory(forceFullCollection: true);
        users.ConnectAll();
        long afterEngine = GC.GetTotalMemory(forceFullCollection: true);

        double ids = (afterIds - beforeIds) / (double)TrackedUsers.Count;
        double engine = (afterEngine - afterIds) / (double)TrackedUsers.Count;
        Console.WriteLine($"Tracked users: {TrackedUsers.Count:N0}, one connected device each");
        Console.WriteLine($"Engine memory per tracked user: {engine:F1} bytes (excluding ID strings)");
        Console.WriteLine($"User and device ID strings (held by the host): {ids:F1} bytes per user");
        users.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        GC.KeepAlive(users);

        // The same users on the default in-memory store: what the store adds on top.
        var store = new InMemoryPresenceStore();
        long beforeStore = GC.GetTotalMemory(forceFullCollection: true);
        var stored = new TrackedUsers(clock, store);
        long afterStoreIds = GC.GetTotalMemory(forceFullCollection: true);
        stored.ConnectAll();
        stored.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult(); // flushes every record
        GC.KeepAlive(stored.Users);
        GC.KeepAlive(stored.Devices);
        long afterStore = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"Engine plus the default InMemoryPresenceStore, per user: {(afterStore - afterStoreIds) / (double)TrackedUsers.Count:F1} bytes ({store.Count:N0} records saved)");
        GC.KeepAlive(stored);
        GC.KeepAlive(beforeStore);

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
