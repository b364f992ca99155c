namespace Presence.Benchmarks;

/// <summary>An engine tracking one million local users, each with one connected device.</summary>
internal sealed class TrackedUsers
{
    public const int Count = 1_000_000;

    public TrackedUsers(TimeProvider clock, IPresenceStore? store = null)
    {
        Users = new UserId[Count];
        Devices = new string[Count];
        for (int i = 0; i < Count; i++)
        {
            Users[i] = UserId.Parse($"@user{i:D7}:example.org");
            Devices[i] = $"DEVICE{i:D7}";
        }

        Engine = PresenceEngine.Create(new PresenceOptions { ServerName = ServerName.Parse("example.org") }, new InMemoryMembershipView(), store ?? new DiscardingStore(), clock);
    }

    public UserId[] Users { get; }

    public string[] Devices { get; }

    public IPresenceEngine Engine { get; }

    public void ConnectAll()
    {
        Engine.StartAsync().AsTask().GetAwaiter().GetResult();
        for (int i = 0; i < Count; i++)
        {
            Engine.Heartbeat(Users[i], Devices[i]);
        }
    }
}

/// <summary>A store that keeps nothing, so measurements show the engine's own cost (a real store is a database).</summary>
internal sealed class DiscardingStore : IPresenceStore
{
    public ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyList<PresenceRecord>>([]);
}
