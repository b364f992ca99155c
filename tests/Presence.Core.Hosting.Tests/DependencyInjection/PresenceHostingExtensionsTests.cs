using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Presence.Core.Hosting.Tests.DependencyInjection;

[CancelAfter(20_000)]
public sealed class PresenceHostingExtensionsTests
{
    [Test]
    public async Task AddPresence_Configuration_BindsServerNameDurationsFederationAndExcludedRooms()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Presence:ServerName"] = "matrix.example.org:8448",
            ["Presence:IdleTimeout"] = "00:10:00",
            ["Presence:SyncTimeout"] = "00:00:45",
            ["Presence:EnableBusy"] = "true",
            ["Presence:ShardCount"] = "16",
            ["Presence:ExcludedRooms:0"] = "!huge:example.org",
            ["Presence:ExcludedRooms:1"] = "!lobby:example.org",
            ["Presence:Federation:BatchWindow"] = "00:00:30",
            ["Presence:Federation:MaxEntriesPerMessage"] = "200",
            ["Presence:Federation:RemoteStaleAfter"] = "00:20:00",
        }).Build();
        var services = new ServiceCollection();
        services.AddPresence(configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView());
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<PresenceOptions>>().Value;

        Assert.Multiple(() =>
        {
            Assert.That(options.ServerName, Is.EqualTo(ServerName.Parse("matrix.example.org:8448")));
            Assert.That(options.IdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(10)));
            Assert.That(options.SyncTimeout, Is.EqualTo(TimeSpan.FromSeconds(45)));
            Assert.That(options.EnableBusy, Is.True);
            Assert.That(options.ShardCount, Is.EqualTo(16));
            Assert.That(options.ExcludedRooms, Is.EquivalentTo(new[] { "!huge:example.org", "!lobby:example.org" }));
            Assert.That(options.Federation.BatchWindow, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(options.Federation.MaxEntriesPerMessage, Is.EqualTo(200));
            Assert.That(options.Federation.RemoteStaleAfter, Is.EqualTo(TimeSpan.FromMinutes(20)));
            Assert.That(options.Federation.SendTimeout, Is.EqualTo(PresenceFederationOptions.DefaultSendTimeout), "unset keys keep their defaults");
        });
    }

    [Test]
    public async Task BindConfiguration_SectionPath_ReadsTheHostsConfigurationAndLaterConfigureWins()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Matrix:Presence:ServerName"] = "example.org",
            ["Matrix:Presence:IdleTimeout"] = "00:03:00",
            ["Matrix:Presence:EnableBusy"] = "false",
        }).Build());
        services.AddPresence().BindConfiguration("Matrix:Presence");
        services.Configure<PresenceOptions>(o => o.EnableBusy = true);
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<PresenceOptions>>().Value;

        Assert.That(options.ServerName.Value, Is.EqualTo("example.org"));
        Assert.That(options.IdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(3)));
        Assert.That(options.EnableBusy, Is.True);
    }

    [Test]
    public async Task HostStart_BadServerName_FailsNamingTheKeyAndWhatIsWrong()
    {
        var builder = HostingHarness.CreateBuilder(new FakeTimeProvider(HostingHarness.Start), new Dictionary<string, string?> { ["ServerName"] = "not a server!" });
        builder.Services.AddPresence(builder.Configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView());

        var error = await HostingHarness.StartFailureAsync(builder.Build());

        Assert.That(error, Is.Not.Null);
        Assert.That(error!.Message, Does.Contain("Presence:ServerName").And.Contain("not a valid server name"));
    }

    [Test]
    public async Task HostStart_MalformedDuration_FailsNamingTheKey()
    {
        var builder = HostingHarness.CreateBuilder(new FakeTimeProvider(HostingHarness.Start), new Dictionary<string, string?> { ["Federation:BatchWindow"] = "ten seconds" });
        builder.Services.AddPresence(builder.Configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView());

        var error = await HostingHarness.StartFailureAsync(builder.Build());

        Assert.That(error, Is.Not.Null);
        Assert.That(error!.Message, Does.Contain("Presence:Federation:BatchWindow").And.Contain("ten seconds"));
    }

    [Test]
    public async Task HostStart_IdleNotLongerThanGranularity_FailsNamingBothOptions()
    {
        var builder = HostingHarness.CreateBuilder(new FakeTimeProvider(HostingHarness.Start), new Dictionary<string, string?> { ["IdleTimeout"] = "00:00:30" });
        builder.Services.AddPresence(builder.Configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView());

        var error = await HostingHarness.StartFailureAsync(builder.Build());

        Assert.That(error, Is.InstanceOf<OptionsValidationException>());
        Assert.That(error!.Message, Does.Contain("PresenceOptions.IdleTimeout").And.Contain("PresenceOptions.LastActiveGranularity"));
    }

    [Test]
    public async Task HostStart_FieldRulesBroken_FailsNamingEachOption()
    {
        var builder = HostingHarness.CreateBuilder(new FakeTimeProvider(HostingHarness.Start), new Dictionary<string, string?>
        {
            ["MaxDevicesPerUser"] = "0",
            ["Federation:BatchWindow"] = "00:00:01",
            ["SyncTimeout"] = "-00:00:01",
        });
        builder.Services.AddPresence(builder.Configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView());

        var error = await HostingHarness.StartFailureAsync(builder.Build());

        Assert.That(error, Is.InstanceOf<OptionsValidationException>());
        Assert.That(error!.Message, Does.Contain("PresenceOptions.MaxDevicesPerUser").And.Contain("PresenceOptions.Federation.BatchWindow").And.Contain("PresenceOptions.SyncTimeout"));
    }

    [Test]
    public async Task HostStart_NoServerName_FailsNamingTheOption()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddPresence(builder.Configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView());

        var error = await HostingHarness.StartFailureAsync(builder.Build());

        Assert.That(error, Is.InstanceOf<OptionsValidationException>());
        Assert.That(error!.Message, Does.Contain("PresenceOptions.ServerName"));
    }

    [Test]
    public async Task HostedService_BeforeAndAfterHostStart_EngineRefusesThenAcceptsCalls()
    {
        var builder = HostingHarness.CreateBuilder(new FakeTimeProvider(HostingHarness.Start));
        builder.Services.AddPresence(builder.Configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView());
        using var host = builder.Build();
        var engine = host.Services.GetRequiredService<IPresenceEngine>();

        var notStarted = Assert.Throws<PresenceException>(() => engine.Heartbeat(HostingHarness.Alice, "D1"), "not started before the host starts");
        Assert.That(notStarted!.ErrorCode, Is.EqualTo(PresenceErrorCodes.Unknown));

        await host.StartAsync();
        engine.SetPresence(HostingHarness.Alice, "D1", PresenceState.Online, "here");

        Assert.That((await engine.GetPresenceAsync(HostingHarness.Alice, HostingHarness.Alice)).Presence.StatusMessage, Is.EqualTo("here"));
        await host.StopAsync();
    }

    [Test]
    public async Task HostedService_HostStops_DrainsUnsavedChangesToTheStoreAndStopsTheEngine()
    {
        var clock = new FakeTimeProvider(HostingHarness.Start);
        var store = new GatedStore();
        var builder = HostingHarness.CreateBuilder(clock);
        builder.Services.AddPresence(builder.Configuration.GetSection("Presence")).UseMembershipView(new InMemoryMembershipView()).UseStore(store);
        using var host = builder.Build();
        var engine = host.Services.GetRequiredService<IPresenceEngine>();
        await host.StartAsync();
        engine.SetPresence(HostingHarness.Alice, "D1", PresenceState.Online, "lunch");
        await store.SaveStarted.WaitAsync(TestContext.CurrentContext.CancellationToken); // the write-behind save of "lunch" is in flight, held by the store
        clock.Advance(TimeSpan.FromSeconds(30));
        engine.ReportActivity(HostingHarness.Alice, "D1"); // last-active moves within the granularity: saved only by the drain

        var stopping = host.StopAsync();
        store.Release();
        await stopping;

        Assert.That(store.Saved.TryGetValue(HostingHarness.Alice, out var record), Is.True);
        Assert.That(record!.StatusMessage, Is.EqualTo("lunch"));
        Assert.That(record.LastActive, Is.EqualTo(HostingHarness.Start + TimeSpan.FromSeconds(30)), "the unsaved last-active was drained on shutdown");
        Assert.Throws<ObjectDisposedException>(() => engine.Heartbeat(HostingHarness.Alice, "D1"));
    }

    [Test]
    public async Task AddHostedService_CalledTwice_RegistersOneHostedService()
    {
        var services = new ServiceCollection();
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org")).AddHostedService().AddHostedService();
        services.AddPresence(new ConfigurationBuilder().Build());
        await using var provider = services.BuildServiceProvider();

        Assert.That(services.Count(d => d.ServiceType == typeof(IHostedService)), Is.EqualTo(1));
    }
}
