using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace Presence.Core.Tests.DependencyInjection;

[CancelAfter(10_000)]
public sealed class PresenceBuilderExtensionsTests
{
    private static readonly ServerName Server = ServerName.Parse("example.org");

    [Test]
    public async Task UseMembershipView_HostRegisteredTheViewFirst_EngineSharesTheHostsSingleton()
    {
        var services = new ServiceCollection();
        services.AddSingleton<CountingView>();
        services.AddPresence(o => o.ServerName = Server).UseMembershipView<CountingView>();
        await using var provider = services.BuildServiceProvider();

        var hosts = provider.GetRequiredService<CountingView>();
        var engines = provider.GetRequiredService<IMembershipView>();
        provider.GetRequiredService<IPresenceEngine>();

        Assert.That(engines, Is.SameAs(hosts));
        Assert.That(hosts.Instances.Count, Is.EqualTo(1), "one instance, not a second one for the engine");
    }

    [Test]
    public async Task UseMembershipView_HostRegistersTheViewAfterwards_EngineSharesTheHostsSingleton()
    {
        var created = new List<CountingView>();
        var services = new ServiceCollection();
        services.AddPresence(o => o.ServerName = Server).UseMembershipView<CountingView>();
        services.AddSingleton(_ => new CountingView(created));
        await using var provider = services.BuildServiceProvider();

        var engines = provider.GetRequiredService<IMembershipView>();

        Assert.That(engines, Is.SameAs(provider.GetRequiredService<CountingView>()));
        Assert.That(created, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task UseMembershipView_ViewNotRegisteredByHost_RegistersItAsASingleton()
    {
        var services = new ServiceCollection();
        services.AddPresence(o => o.ServerName = Server).UseMembershipView<CountingView>();
        await using var provider = services.BuildServiceProvider();

        var first = provider.GetRequiredService<IMembershipView>();

        Assert.That(first, Is.SameAs(provider.GetRequiredService<CountingView>()));
        Assert.That(provider.GetRequiredService<IMembershipView>(), Is.SameAs(first));
    }

    [Test]
    public async Task UseMembershipView_Factory_CalledOnceWithTheHostsServices()
    {
        var rooms = new InMemoryMembershipView();
        int calls = 0;
        var services = new ServiceCollection();
        services.AddSingleton(rooms);
        services.AddPresence(o => o.ServerName = Server).UseMembershipView(provider =>
        {
            calls++;
            return provider.GetRequiredService<InMemoryMembershipView>();
        });
        await using var provider = services.BuildServiceProvider();

        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();
        var alice = UserId.Parse("@alice:example.org");
        var bob = UserId.Parse("@bob:example.org");
        rooms.Join("!r:example.org", alice);
        rooms.Join("!r:example.org", bob);
        await engine.UserJoinedRoomAsync(alice, "!r:example.org");
        await engine.UserJoinedRoomAsync(bob, "!r:example.org");

        Assert.That(provider.GetRequiredService<IMembershipView>(), Is.SameAs(rooms));
        Assert.That(calls, Is.EqualTo(1));
        Assert.That((await engine.GetPresenceAsync(bob, alice)).IsAllowed, Is.True, "the engine reads rooms through the factory's view");
    }

    [Test]
    public async Task UseStore_InstanceAndFactory_EngineSavesThroughThem()
    {
        var byInstance = new InMemoryPresenceStore();
        var byFactory = new InMemoryPresenceStore();

        Assert.That(await SavedThroughAsync(b => b.UseStore(byInstance), byInstance), Is.True);
        Assert.That(await SavedThroughAsync(b => b.UseStore(_ => byFactory), byFactory), Is.True);
    }

    [Test]
    public async Task UseStore_Generic_HostsInstanceAndIdempotent()
    {
        var services = new ServiceCollection();
        var hosts = new InMemoryPresenceStore();
        services.AddSingleton(hosts);
        var builder = services.AddPresence(o => o.ServerName = Server).UseMembershipView(new InMemoryMembershipView());
        builder.UseStore<InMemoryPresenceStore>().UseStore<InMemoryPresenceStore>();
        await using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetRequiredService<IPresenceStore>(), Is.SameAs(hosts));
        Assert.That(services.Count(d => d.ServiceType == typeof(IPresenceStore)), Is.EqualTo(1));
        Assert.That(services.Count(d => d.ServiceType == typeof(InMemoryPresenceStore)), Is.EqualTo(1));
    }

    [Test]
    public async Task UseListStore_InstanceFactoryAndType_ResolveToTheChosenStore()
    {
        var instance = new InMemoryPresenceListStore();
        var services = new ServiceCollection();
        var builder = services.AddPresence(o => o.ServerName = Server);
        builder.UseListStore(instance);
        await using (var provider = services.BuildServiceProvider())
        {
            Assert.That(provider.GetRequiredService<IPresenceListStore>(), Is.SameAs(instance));
        }

        var fromFactory = new InMemoryPresenceListStore();
        builder.UseListStore(_ => fromFactory);
        await using (var provider = services.BuildServiceProvider())
        {
            Assert.That(provider.GetRequiredService<IPresenceListStore>(), Is.SameAs(fromFactory));
        }

        builder.UseListStore<InMemoryPresenceListStore>();
        await using (var provider = services.BuildServiceProvider())
        {
            Assert.That(provider.GetRequiredService<IPresenceListStore>(), Is.SameAs(provider.GetRequiredService<InMemoryPresenceListStore>()));
        }

        Assert.That(services.Count(d => d.ServiceType == typeof(IPresenceListStore)), Is.EqualTo(1));
    }

    [Test]
    public async Task UseTransport_FactoryAndGeneric_ResolveToTheChosenTransport()
    {
        var transport = Substitute.For<IPresenceTransport>();
        var services = new ServiceCollection();
        var builder = services.AddPresence(o => o.ServerName = Server).UseTransport(_ => transport);
        await using (var provider = services.BuildServiceProvider())
        {
            Assert.That(provider.GetRequiredService<IPresenceTransport>(), Is.SameAs(transport));
        }

        services.AddSingleton<NullTransport>();
        builder.UseTransport<NullTransport>();
        await using (var provider = services.BuildServiceProvider())
        {
            Assert.That(provider.GetRequiredService<IPresenceTransport>(), Is.SameAs(provider.GetRequiredService<NullTransport>()));
        }

        Assert.That(services.Count(d => d.ServiceType == typeof(IPresenceTransport)), Is.EqualTo(1));
    }

    [Test]
    public async Task AddPresence_ServicesConfigure_IsHonouredByTheEngine()
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddPresence(o => o.ServerName = Server).UseMembershipView(new InMemoryMembershipView());
        services.Configure<PresenceOptions>(o => o.SyncTimeout = TimeSpan.FromMinutes(2));
        await using var provider = services.BuildServiceProvider();
        var engine = provider.GetRequiredService<IPresenceEngine>();
        await engine.StartAsync();
        var alice = UserId.Parse("@alice:example.org");

        engine.Heartbeat(alice, "D1");
        clock.Advance(TimeSpan.FromSeconds(90));

        Assert.That(provider.GetRequiredService<IOptions<PresenceOptions>>().Value.SyncTimeout, Is.EqualTo(TimeSpan.FromMinutes(2)));
        Assert.That((await engine.GetPresenceAsync(alice, alice)).Presence.State, Is.EqualTo(PresenceState.Online), "past the default 30 s sync timeout, within the configured 2 min");
    }

    [Test]
    public void AddPresence_InvalidOptions_ValidationNamesEveryOption()
    {
        var services = new ServiceCollection();
        services.AddPresence(o =>
        {
            o.ServerName = Server;
            o.IdleTimeout = TimeSpan.FromSeconds(30);
            o.MaxDevicesPerUser = 0;
            o.Federation.BatchWindow = TimeSpan.FromSeconds(1);
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => _ = provider.GetRequiredService<IOptions<PresenceOptions>>().Value);

        Assert.That(error!.Message, Does.Contain("PresenceOptions.IdleTimeout").And.Contain("PresenceOptions.LastActiveGranularity"));
        Assert.That(error.Message, Does.Contain("PresenceOptions.MaxDevicesPerUser"));
        Assert.That(error.Message, Does.Contain("PresenceOptions.Federation.BatchWindow"));
    }

    private static async Task<bool> SavedThroughAsync(Action<IPresenceBuilder> choose, InMemoryPresenceStore store)
    {
        var services = new ServiceCollection();
        var builder = services.AddPresence(o => o.ServerName = Server).UseMembershipView(new InMemoryMembershipView());
        choose(builder);
        var alice = UserId.Parse("@alice:example.org");
        await using (var provider = services.BuildServiceProvider())
        {
            var engine = provider.GetRequiredService<IPresenceEngine>();
            await engine.StartAsync();
            engine.SetPresence(alice, "D1", PresenceState.Online, "hello");
            await engine.DisposeAsync(); // drains the write-behind queue
        }

        return store.TryGet(alice, out _);
    }

    private sealed class CountingView : IMembershipView
    {
        public CountingView()
            : this([])
        {
        }

        public CountingView(List<CountingView> instances)
        {
            Instances = instances;
            instances.Add(this);
        }

        public List<CountingView> Instances { get; }

        public ValueTask<IReadOnlyCollection<string>> GetRoomsOfUserAsync(UserId user, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyCollection<string>>([]);

        public ValueTask<IReadOnlyCollection<UserId>> GetMembersOfRoomAsync(string roomId, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyCollection<UserId>>([]);
    }

    private sealed class NullTransport : IPresenceTransport
    {
        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
