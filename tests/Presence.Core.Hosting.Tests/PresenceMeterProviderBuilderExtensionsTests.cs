using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Presence.Core.Hosting.Tests;

[CancelAfter(20_000)]
public sealed class PresenceMeterProviderBuilderExtensionsTests
{
    [Test]
    public async Task AddPresenceInstrumentation_EngineMetrics_ReachTheExporter()
    {
        var exported = new List<Metric>();
        using var meters = Sdk.CreateMeterProviderBuilder().AddPresenceInstrumentation().AddInMemoryExporter(exported).Build();

        Assert.That(await HeartbeatAndExportAsync(meters, exported), Does.Contain(PresenceMetrics.Heartbeats));
    }

    [Test]
    public async Task WithoutPresenceInstrumentation_EngineMetrics_AreNotExported()
    {
        var exported = new List<Metric>();
        using var meters = Sdk.CreateMeterProviderBuilder().AddInMemoryExporter(exported).Build();

        Assert.That(await HeartbeatAndExportAsync(meters, exported), Does.Not.Contain(PresenceMetrics.Heartbeats));
    }

    private static async Task<IReadOnlyList<string>> HeartbeatAndExportAsync(MeterProvider meters, List<Metric> exported)
    {
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = ServerName.Parse("example.org") }, new InMemoryMembershipView(), timeProvider: new FakeTimeProvider(HostingHarness.Start));
        await engine.StartAsync();
        engine.Heartbeat(HostingHarness.Alice, "D1");
        meters.ForceFlush();
        return exported.Select(static m => m.Name).ToList();
    }
}
