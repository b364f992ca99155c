using Microsoft.Extensions.Time.Testing;

namespace Presence.Benchmarks;

/// <summary>
/// <c>--eviction</c>: does memory come back when users leave? Local users (200,000 unless <c>--users N</c>; the issue's
/// figure is one million) come online once (a heartbeat), go offline (<see cref="IPresenceEngine.Disconnect"/>), their
/// records are saved, and the clock moves past <see cref="PresenceOptions.EvictAfter"/>. Reports the engine's memory
/// (<see cref="GC.GetTotalMemory(bool)"/>, the ID strings excluded: created before the first reading) online, offline and
/// after eviction, and what is left as a percentage of what the users took. Target: under 5 %.
/// </summary>
/// <remarks>
/// The store discards records but, like a database, is not instant: new users are read in the background and saved by the
/// write-behind loop; a user with something unsaved is not evicted. The clock is a <see cref="FakeTimeProvider"/>, so the
/// engine's timer fires on <see cref="FakeTimeProvider.Advance"/>, on this thread. The clock is moved on by
/// <see cref="PresenceOptions.EvictAfter"/> plus a minute up to five times, stopping when no user is held (a user who was
/// not yet saved when their time came is asked again one eviction time later).
/// </remarks>
internal static class EvictionMemory
{
    public const int DefaultUsers = 200_000;
    private const int MaxRounds = 5;

    public static void Report(int count)
    {
        var ids = new UserIds(count);
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var store = new DiscardingStore();

        long before = GC.GetTotalMemory(forceFullCollection: true);
        var users = new TrackedUsers(ids, clock, store);
        users.Engine.StartAsync().AsTask().GetAwaiter().GetResult(); // blocking: the report stays on the main thread
        long empty = GC.GetTotalMemory(forceFullCollection: true);

        users.ConnectAll();
        users.WaitUntilSettled();
        long online = GC.GetTotalMemory(forceFullCollection: true);
        long heldOnline = users.Internal.UsersHeld;

        for (int i = 0; i < count; i++)
        {
            users.Engine.Disconnect(users.Users[i], users.Devices[i]);
        }

        Settle.WaitForQuietStore(store);
        long offline = GC.GetTotalMemory(forceFullCollection: true);
        long heldOffline = users.Internal.UsersHeld;

        int rounds = 0;
        long held = heldOffline;
        while (held > 0 && rounds < MaxRounds)
        {
            clock.Advance(PresenceOptions.DefaultEvictAfter + TimeSpan.FromMinutes(1));
            Settle.WaitForQuietStore(store);
            rounds++;
            held = users.Internal.UsersHeld;
        }

        long evicted = GC.GetTotalMemory(forceFullCollection: true);

        double took = offline - empty;
        Console.WriteLine($"Eviction: {count:N0} local users came online once, went offline, were saved ({store.Saved:N0} records) and the clock moved {rounds} x (EvictAfter + 1 min)");
        Console.WriteLine($"  Empty engine (started):          {(empty - before) / 1024.0 / 1024.0,10:F2} MB");
        Console.WriteLine($"  Online  ({heldOnline,9:N0} users held): {(online - empty) / 1024.0 / 1024.0,10:F2} MB above the empty engine, {(online - empty) / (double)count:F1} bytes per user");
        Console.WriteLine($"  Offline ({heldOffline,9:N0} users held): {took / 1024.0 / 1024.0,10:F2} MB above the empty engine, {took / count:F1} bytes per user");
        Console.WriteLine($"  Evicted ({held,9:N0} users held): {(evicted - empty) / 1024.0 / 1024.0,10:F2} MB above the empty engine, {(evicted - empty) / (double)count:F1} bytes per user");
        Console.WriteLine($"  Left after eviction: {100.0 * (evicted - empty) / took:F1} % of what the offline users took ({100.0 * (evicted - empty) / (online - empty):F1} % of the online figure); target < 5 %");
        users.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        GC.KeepAlive(ids);
    }
}
