using Microsoft.Extensions.DependencyInjection;
using NSubstitute;

namespace Presence.Core.Tests.DependencyInjection;

[CancelAfter(10_000)]
public sealed class PresenceServiceCollectionExtensionsTests
{
    [Test]
    public async Task AddPresence_WithView_ResolvesAWorkingSingletonEngine()
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org")).UseMembershipView(new InMemoryMembershipView());
        await using var provider = services.BuildServiceProvider();

        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();
        var alice = UserId.Parse("@alice:example.org");
        engine.Heartbeat(alice, "D1");
        clock.Advance(TimeSpan.FromSeconds(30));

        Assert.That(provider.GetRequiredService<IPresenceEngine>(), Is.SameAs(engine));
        Assert.That(provider.GetRequiredService<IPresenceStore>(), Is.InstanceOf<InMemoryPresenceStore>());
        Assert.That((await engine.GetPresenceAsync(alice, alice)).Presence.State, Is.EqualTo(PresenceState.Offline), "the registered clock drives the engine");
    }

    [Test]
    public async Task AddPresence_WithoutView_FailsWithAClearMessage()
    {
        var services = new ServiceCollection();
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org"));
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IPresenceEngine>());

        Assert.That(error!.Message, Does.Contain("UseMembershipView"));
    }

    [Test]
    public async Task AddPresence_Twice_RegistersOnceAndAppliesBothConfigurations()
    {
        var services = new ServiceCollection();
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org"));
        services.AddPresence(o => o.EnableBusy = true).UseMembershipView<InMemoryMembershipView>();
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<PresenceOptions>();

        Assert.That(services.Count(d => d.ServiceType == typeof(IPresenceEngine)), Is.EqualTo(1));
        Assert.That(options.ServerName.Value, Is.EqualTo("example.org"));
        Assert.That(options.EnableBusy, Is.True);
    }

    [Test]
    public async Task UseStore_ReplacesTheInMemoryDefault()
    {
        var services = new ServiceCollection();
        services.AddSingleton(Substitute.For<IMembershipView>());
        services.AddPresence(o => o.ServerName = ServerName.Parse("example.org")).UseStore<RecordingStore>();
        await using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetRequiredService<IPresenceStore>(), Is.InstanceOf<RecordingStore>());
        Assert.That(services.Count(d => d.ServiceType == typeof(IPresenceStore)), Is.EqualTo(1));
    }

    [Test]
    public async Task UseTransport_GivesTheEngineAWayToOtherServers()
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);
        var transport = Substitute.For<IPresenceTransport>();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        var rooms = new InMemoryMembershipView();
        rooms.Join("!r:a.example", UserId.Parse("@alice:a.example"));
        rooms.Join("!r:a.example", UserId.Parse("@bob:b.example")); // b has interest in alice: a shared room
        services.AddPresence(o => o.ServerName = ServerName.Parse("a.example")).UseMembershipView(rooms).UseTransport(transport);
        await using var provider = services.BuildServiceProvider();
        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();

        await engine.ReceiveAsync(ServerName.Parse("b.example"), new PresenceMessage(poll: [UserId.Parse("@alice:a.example")]));
        engine.SetPresence(UserId.Parse("@alice:a.example"), "D1", PresenceState.Online, null);
        clock.Advance(TimeSpan.FromSeconds(10));

        await transport.Received().SendAsync(ServerName.Parse("b.example"), Arg.Is<PresenceMessage>(m => m.Push.Count == 1), Arg.Any<CancellationToken>());
    }

    [Test]
    public void AddPresence_InvalidOptions_FailOnResolveNamingTheOption()
    {
        var services = new ServiceCollection();
        services.AddPresence().UseMembershipView(new InMemoryMembershipView());
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => provider.GetRequiredService<IPresenceEngine>());

        Assert.That(error!.Message, Does.Contain("PresenceOptions.ServerName"));
    }

    private sealed class RecordingStore : IPresenceStore
    {
        public ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyList<PresenceRecord>>([]);
    }
}
