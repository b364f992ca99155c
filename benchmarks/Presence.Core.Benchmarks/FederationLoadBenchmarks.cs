using BenchmarkDotNet.Attributes;

namespace Presence.Benchmarks;

/// <summary>
/// The whole engine under a federation-like load: random-order explicit changes of 10,000 local users, each in two of
/// 1,000 rooms whose members live on up to 100 servers, so every change goes through the state machine, the may-see rule
/// and the rooms, and into the outbox of every server sharing a room (the clock is frozen: nothing is sent, the outbox
/// coalesces per destination and user). Baselines in the same run: a <see cref="Dictionary{TKey, TValue}"/> update per
/// change (the floor), and the same engine with no other servers (local presence and rooms only).
/// </summary>
[MemoryDiagnoser]
public class FederationLoadBenchmarks
{
    public const int LocalUsers = 10_000;
    public const int Rooms = 1_000;
    public const int Servers = 100;
    public const int RemotePerRoom = 12;
    public const int Changes = 10_000;

    private UserId[] _users = null!;
    private int[] _order = null!;
    private IPresenceEngine _federated = null!;
    private IPresenceEngine _local = null!;
    private Dictionary<UserId, (PresenceState State, string? Status)> _dictionary = null!;
    private int _pass;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _users = [.. Enumerable.Range(0, LocalUsers).Select(i => UserId.Parse($"@u{i}:origin.example"))];
        var view = new InMemoryMembershipView();
        for (int i = 0; i < LocalUsers; i++)
        {
            view.Join($"!r{i % Rooms}:origin.example", _users[i]);
            view.Join($"!r{random.Next(Rooms)}:origin.example", _users[i]);
        }

        for (int r = 0; r < Rooms; r++)
        {
            for (int k = 0; k < RemotePerRoom; k++)
            {
                view.Join($"!r{r}:origin.example", UserId.Parse($"@m{r}x{k}:s{random.Next(Servers)}.example"));
            }
        }

        _order = [.. Enumerable.Range(0, LocalUsers).OrderBy(_ => random.Next())];
        _federated = Start(view, new DiscardingTransport());
        _local = Start(view, transport: null);
        _dictionary = _users.ToDictionary(u => u, _ => (PresenceState.Online, (string?)null));
        Pass(_federated); // settle: caches filled, every user and destination seen once
        Pass(_local);
    }

    private static IPresenceEngine Start(InMemoryMembershipView view, IPresenceTransport? transport)
    {
        var engine = PresenceEngine.Create(new PresenceOptions { ServerName = ServerName.Parse("origin.example") }, view, timeProvider: new FrozenTimeProvider(), transport: transport);
        engine.StartAsync().AsTask().GetAwaiter().GetResult();
        return engine;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _federated.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _local.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Every user once, in random order, alternating between two states and statuses: each call is a published, prompt change.</summary>
    private void Pass(IPresenceEngine engine)
    {
        _pass++;
        var state = (_pass & 1) == 0 ? PresenceState.Online : PresenceState.Unavailable;
        string status = (_pass & 1) == 0 ? "in" : "out";
        foreach (int i in _order)
        {
            engine.SetPresence(_users[i], "D1", state, status);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Changes)]
    public void DictionaryUpdate()
    {
        _pass++;
        var value = ((_pass & 1) == 0 ? PresenceState.Online : PresenceState.Unavailable, (_pass & 1) == 0 ? "in" : "out");
        foreach (int i in _order)
        {
            _dictionary[_users[i]] = value;
        }
    }

    [Benchmark(OperationsPerInvoke = Changes)]
    public void Engine_LocalOnly() => Pass(_local);

    [Benchmark(OperationsPerInvoke = Changes)]
    public void Engine_Federated() => Pass(_federated);

    private sealed class DiscardingTransport : IPresenceTransport
    {
        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
