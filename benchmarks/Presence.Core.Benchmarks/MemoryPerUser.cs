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
    }
}
