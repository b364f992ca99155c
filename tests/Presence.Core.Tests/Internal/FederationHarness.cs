using Microsoft.Extensions.Logging;
using Presence.Internal;

namespace Presence.Core.Tests.Internal;

/// <summary>Several servers on one fake clock, one in-memory network and one shared view of rooms.</summary>
internal sealed class FederationHarness : IAsyncDisposable
{
    private FederationHarness(FakeTimeProvider clock, InMemoryPresenceNetwork network, InMemoryMembershipView rooms, Dictionary<ServerName, (IPresenceEngine Engine, EngineMetrics Metrics, CapturingTransport Sent)> servers)
    {
        Clock = clock;
        Network = network;
        Rooms = rooms;
        Servers = servers;
    }

    public FakeTimeProvider Clock { get; }

    public InMemoryPresenceNetwork Network { get; }

    public InMemoryMembershipView Rooms { get; }

    public Dictionary<ServerName, (IPresenceEngine Engine, EngineMetrics Metrics, CapturingTransport Sent)> Servers { get; }

    public IPresenceEngine this[ServerName server] => Servers[server].Engine;

    public static async Task<FederationHarness> StartAsync(ServerName[] names, Action<PresenceOptions>? configure = null, InMemoryPresenceListStore[]? listStores = null, ILoggerFactory? loggerFactory = null)
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);
        var network = new InMemoryPresenceNetwork(clock);
        var rooms = new InMemoryMembershipView();
        var servers = new Dictionary<ServerName, (IPresenceEngine, EngineMetrics, CapturingTransport)>();
        for (int i = 0; i < names.Length; i++)
        {
            var name = names[i];
            var options = new PresenceOptions { ServerName = name };
            configure?.Invoke(options);
            var metrics = new EngineMetrics(); // a meter factory per server
            var transport = new CapturingTransport(network.CreateTransport(name), clock);
            var engine = PresenceEngine.Create(options, rooms, timeProvider: clock, loggerFactory: loggerFactory, meterFactory: metrics.MeterFactory, transport: transport, listStore: listStores?[i]);
            await engine.StartAsync();
            network.Attach(name, engine);
            servers[name] = (engine, metrics, transport);
        }

        return new FederationHarness(clock, network, rooms, servers);
    }

    public async Task ShareRoomAsync(params UserId[] users)
    {
        foreach (var user in users)
        {
            Rooms.Join("!room:a.example", user);
            foreach (var (engine, _, _) in Servers.Values)
            {
                await engine.UserJoinedRoomAsync(user, "!room:a.example");
            }
        }
    }

    /// <summary>
    /// Waits until no server has a send in flight. A send a clock step starts may end on the thread pool (a receiver that
    /// awaits, a timed-out send being cancelled); a test that moves the clock again before then races it. Bounded by the
    /// test's [CancelAfter]; no real time is waited for, so call it only when nothing is meant to hang.
    /// </summary>
    public async Task SettleAsync()
    {
        var cancel = TestContext.CurrentContext.CancellationToken;
        bool waited;
        do
        {
            waited = false;
            foreach (var (engine, _, _) in Servers.Values)
            {
                var internals = (DefaultPresenceEngine)engine;
                if (internals.OutboundInFlight > 0)
                {
                    await internals.WhenOutboundIdleForTestAsync().WaitAsync(cancel);
                    waited = true; // its ended sends may have started others' (an answer): look at every server again
                }
            }
        }
        while (waited);
    }

    public async Task<PresenceSnapshot> ReadAsync(ServerName at, UserId user) => (await this[at].GetPresenceAsync(user, user)).Presence;

    public async ValueTask DisposeAsync()
    {
        foreach (var (engine, metrics, _) in Servers.Values)
        {
            await engine.DisposeAsync();
            metrics.Dispose();
        }
    }
}

/// <summary>Records every message a server hands to the network, with the time.</summary>
internal sealed class CapturingTransport(IPresenceTransport inner, TimeProvider clock) : IPresenceTransport
{
    public List<(DateTimeOffset At, ServerName To, PresenceMessage Message)> Messages { get; } = [];

    public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
    {
        lock (Messages)
        {
            Messages.Add((clock.GetUtcNow(), destination, message));
        }

        return inner.SendAsync(destination, message, cancellationToken);
    }
}
