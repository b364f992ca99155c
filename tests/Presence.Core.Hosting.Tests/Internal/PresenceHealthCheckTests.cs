using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using NSubstitute;

namespace Presence.Core.Hosting.Tests.Internal;

[CancelAfter(20_000)]
public sealed class PresenceHealthCheckTests
{
    private static readonly UserId Bob = UserId.Parse("@bob:example.org");
    private readonly List<GatedStore> _stores = [];
    private readonly FakeTimeProvider _clock = new(HostingHarness.Start);
    private ServiceProvider? _provider;

    /// <summary>Releases held saves first, so disposing the engine (which drains) never waits for a test that failed early.</summary>
    [TearDown]
    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            store.Fail = false;
            store.Release();
        }

        if (_provider is not null)
        {
            await _provider.DisposeAsync();
        }
    }

    [Test]
    public async Task CheckHealth_NotStarted_Unhealthy()
    {
        var provider = Build(_ => { });

        var report = await CheckAsync(provider);

        Assert.That(report.Status, Is.EqualTo(HealthStatus.Unhealthy));
        Assert.That(report.Description, Does.Contain("not started"));
        Assert.That(report.Data["started"], Is.False);
    }

    [Test]
    public async Task CheckHealth_Running_HealthyWithItsData()
    {
        var provider = Build(_ => { });
        await provider.GetRequiredService<IPresenceEngine>().StartAsync();

        var report = await CheckAsync(provider);

        Assert.That(report.Status, Is.EqualTo(HealthStatus.Healthy));
        Assert.That(report.Data["started"], Is.True);
        Assert.That(report.Data["store"], Is.EqualTo("ok"));
        Assert.That(report.Data.Keys, Is.SupersetOf(new[] { "failing_peers", "outbound_queue_depth", "unsaved_users", "loads_pending" }));
    }

    [Test]
    public async Task CheckHealth_Stopped_Unhealthy()
    {
        var provider = Build(_ => { });
        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();
        await engine.DisposeAsync();

        var report = await CheckAsync(provider);

        Assert.That(report.Status, Is.EqualTo(HealthStatus.Unhealthy));
        Assert.That(report.Description, Does.Contain("stopped"));
    }

    [Test]
    public async Task CheckHealth_StoreSavesFailing_Degraded()
    {
        var store = Track(new GatedStore { Fail = true });
        var provider = Build(b => b.UseStore(store));
        using var failures = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), PresenceMetrics.MeterName, PresenceMetrics.StoreFailures);
        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();

        engine.SetPresence(HostingHarness.Alice, "D1", PresenceState.Online, null);
        await failures.WaitForMeasurementsAsync(1, TestContext.CurrentContext.CancellationToken);
        var report = await CheckAsync(provider);

        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Data["store"], Is.EqualTo("failing"));
        Assert.That(report.Data["store_consecutive_failures"], Is.EqualTo(1));
        Assert.That(report.Description, Does.Contain("store"));
    }

    [Test]
    public async Task CheckHealth_PeerSendsFailing_Degraded()
    {
        var transport = Substitute.For<IPresenceTransport>();
        transport.SendAsync(Arg.Any<ServerName>(), Arg.Any<PresenceMessage>(), Arg.Any<CancellationToken>())
            .Returns(_ => ValueTask.FromException(new HttpRequestException("connection refused")));
        var rooms = new InMemoryMembershipView();
        var remote = UserId.Parse("@carol:b.example");
        rooms.Join("!r:example.org", HostingHarness.Alice);
        rooms.Join("!r:example.org", remote);
        var provider = Build(b => b.UseMembershipView(rooms).UseTransport(transport));
        using var failures = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), PresenceMetrics.MeterName, PresenceMetrics.OutboundFailures);
        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();

        await engine.ReceiveAsync(ServerName.Parse("b.example"), new PresenceMessage(poll: [HostingHarness.Alice])); // b subscribes to alice
        engine.SetPresence(HostingHarness.Alice, "D1", PresenceState.Online, null);
        _clock.Advance(TimeSpan.FromSeconds(10)); // the batch window: the push to b goes, and fails
        await failures.WaitForMeasurementsAsync(1, TestContext.CurrentContext.CancellationToken);
        var report = await CheckAsync(provider);

        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Data["failing_peers"], Is.EqualTo(1));
        Assert.That(report.Description, Does.Contain("peer"));
    }

    [Test]
    public async Task CheckHealth_UnsavedUsersOverThreshold_Degraded()
    {
        var store = Track(new GatedStore());
        var provider = Build(b => b.UseStore(store), limits => limits.MaxUnsavedUsers = 0);
        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();
        engine.SetPresence(HostingHarness.Alice, "D1", PresenceState.Online, null);
        await store.SaveStarted.WaitAsync(TestContext.CurrentContext.CancellationToken); // alice's save is held by the store

        engine.SetPresence(Bob, "D1", PresenceState.Online, null); // waits behind it, unsaved
        var report = await CheckAsync(provider);

        Assert.That(report.Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Data["unsaved_users"], Is.EqualTo(1));
        Assert.That(report.Description, Does.Contain("not yet saved"));
    }

    [Test]
    public async Task CheckHealth_UnsavedUsersWithinThreshold_Healthy()
    {
        var store = Track(new GatedStore());
        var provider = Build(b => b.UseStore(store));
        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();
        engine.SetPresence(HostingHarness.Alice, "D1", PresenceState.Online, null);
        await store.SaveStarted.WaitAsync(TestContext.CurrentContext.CancellationToken);

        engine.SetPresence(Bob, "D1", PresenceState.Online, null);
        var report = await CheckAsync(provider);

        Assert.That(report.Status, Is.EqualTo(HealthStatus.Healthy));
        Assert.That(report.Data["unsaved_users"], Is.EqualTo(1));
    }

    [Test]
    public async Task AddPresenceHealthCheck_CalledTwice_OneCheck()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org")).UseMembershipView(new InMemoryMembershipView())
            .AddPresenceHealthCheck().AddPresenceHealthCheck();
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.That(report.Entries.Keys, Is.EqualTo(new[] { "presence" }));
    }

    [Test]
    public async Task AddHealthChecksAddPresence_NameAndTags_AreTheRegistrations()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org")).UseMembershipView(new InMemoryMembershipView());
        services.AddHealthChecks().AddPresence(name: "matrix-presence", tags: ["ready"]);
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains("ready"));

        Assert.That(report.Entries.Keys, Is.EqualTo(new[] { "matrix-presence" }));
        Assert.That(report.Entries["matrix-presence"].Status, Is.EqualTo(HealthStatus.Unhealthy), "not started");
    }

    private GatedStore Track(GatedStore store)
    {
        _stores.Add(store);
        return store;
    }

    private ServiceProvider Build(Action<IPresenceBuilder> choose, Action<PresenceHealthCheckOptions>? limits = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<TimeProvider>(_clock);
        var builder = services.AddPresence(o => o.ServerName = ServerName.Parse("example.org")).UseMembershipView(new InMemoryMembershipView());
        choose(builder);
        builder.AddPresenceHealthCheck(limits);
        _provider = services.BuildServiceProvider();
        return _provider;
    }

    private static async Task<HealthReportEntry> CheckAsync(ServiceProvider provider)
        => (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["presence"];
}
