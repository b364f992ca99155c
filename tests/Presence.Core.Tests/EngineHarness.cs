namespace Presence.Core.Tests;

/// <summary>An engine on a fake clock, an in-memory membership view and store, and its metrics.</summary>
internal sealed class EngineHarness : IAsyncDisposable
{
    public static readonly ServerName Server = ServerName.Parse("example.org");
    public static readonly TimeSpan SyncEvery = TimeSpan.FromSeconds(20);

    /// <summary>Where every test clock starts: 2026-01-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private EngineHarness(IPresenceEngine engine, FakeTimeProvider clock, TimerTrackingTimeProvider timers, InMemoryMembershipView rooms, IPresenceStore store, EngineMetrics metrics)
    {
        Engine = engine;
        Clock = clock;
        Timers = timers;
        Rooms = rooms;
        Store = store;
        Metrics = metrics;
    }

    public IPresenceEngine Engine { get; }

    public FakeTimeProvider Clock { get; }

    /// <summary>Gets the clock as the engine sees it: <see cref="Clock"/>, tracking the engine's timers.</summary>
    public TimerTrackingTimeProvider Timers { get; }

    public InMemoryMembershipView Rooms { get; }

    public IPresenceStore Store { get; }

    public EngineMetrics Metrics { get; }

    public long Publications => Metrics.Total(PresenceMetrics.Publications);

    public DateTimeOffset Now => Clock.GetUtcNow();

    public static UserId User(string localpart) => UserId.Parse($"@{localpart}:example.org");

    public static async Task<EngineHarness> StartAsync(
        Action<PresenceOptions>? configure = null,
        IPresenceStore? store = null,
        FakeTimeProvider? clock = null,
        InMemoryMembershipView? rooms = null)
    {
        var options = new PresenceOptions { ServerName = Server, ClientBatchWindow = TimeSpan.FromSeconds(10) };
        configure?.Invoke(options);
        clock ??= new FakeTimeProvider(Start);
        var timers = new TimerTrackingTimeProvider(clock);
        rooms ??= new InMemoryMembershipView();
        store ??= new InMemoryPresenceStore();
        var metrics = new EngineMetrics();
        var engine = PresenceEngine.Create(options, rooms, store, timers, meterFactory: metrics.MeterFactory);
        await engine.StartAsync();
        return new EngineHarness(engine, clock, timers, rooms, store, metrics);
    }

    public void Advance(TimeSpan delta) => Clock.Advance(delta);

    /// <summary>Lets <paramref name="total"/> pass while the devices keep syncing every <see cref="SyncEvery"/>.</summary>
    public void SyncFor(TimeSpan total, UserId user, params string[] devices)
    {
        while (total > TimeSpan.Zero)
        {
            var step = total < SyncEvery ? total : SyncEvery;
            Advance(step);
            total -= step;
            foreach (var device in devices)
            {
                Engine.Heartbeat(user, device);
            }
        }
    }

    public async Task<PresenceSnapshot> ReadAsync(UserId user) => (await Engine.GetPresenceAsync(user, user)).Presence;

    public async Task ShareRoomAsync(string roomId, params UserId[] users)
    {
        foreach (var user in users)
        {
            Rooms.Join(roomId, user);
            await Engine.UserJoinedRoomAsync(user, roomId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        Metrics.Dispose();
    }
}
