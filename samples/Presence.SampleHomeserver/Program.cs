using Presence;
using Presence.Sample;

// Runs one sample homeserver until Ctrl+C:
//   dotnet run --project samples/Presence.SampleHomeserver -- --server-name a.localhost --port 8480 --users alice,bob \
//       [--peer b.localhost=http://127.0.0.1:8481] [--room '!team:a.localhost'=alice,bob,@carol:b.localhost]
//       [--idle-timeout SECONDS] [--sync-timeout SECONDS]   (shorter than the defaults of 300 s and 30 s, for the client checks)
string? name = null;
int port = 8480;
var users = new List<string>();
var peers = new Dictionary<ServerName, Uri>();
var rooms = new InMemoryMembershipView();
var members = new List<(string Room, string Members)>();
TimeSpan? idleTimeout = null, syncTimeout = null;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--server-name": name = args[i + 1]; break;
        case "--port": port = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--users": users.AddRange(args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries)); break;
        case "--peer":
            var peer = args[i + 1].Split('=', 2);
            peers[ServerName.Parse(peer[0])] = new Uri(peer[1]);
            break;
        case "--room":
            var room = args[i + 1].Split('=', 2);
            members.Add((room[0], room[1]));
            break;
        case "--idle-timeout": idleTimeout = TimeSpan.FromSeconds(double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture)); break;
        case "--sync-timeout": syncTimeout = TimeSpan.FromSeconds(double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture)); break;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]}");
            return 2;
    }
}

if (name is null)
{
    Console.Error.WriteLine("--server-name is required.");
    return 2;
}

var server = ServerName.Parse(name);
foreach (var (room, list) in members)
{
    foreach (var member in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
    {
        rooms.Join(room, member.StartsWith('@') ? UserId.Parse(member) : UserId.Create(member, server));
    }
}

var options = new SampleHomeserverOptions
{
    ServerName = server,
    Port = port,
    Users = users,
    Rooms = rooms,
    Configure = o =>
    {
        if (idleTimeout is { } idle)
        {
            o.IdleTimeout = idle;
            o.LastActiveGranularity = idle / 4 < o.LastActiveGranularity ? idle / 4 : o.LastActiveGranularity; // must stay below the idle timeout
        }

        o.SyncTimeout = syncTimeout ?? o.SyncTimeout;
    },
};
foreach (var (peerName, uri) in peers)
{
    options.Peers[peerName] = uri;
}

await using var homeserver = await SampleHomeserver.StartAsync(options);
Console.WriteLine($"{server} listening on {homeserver.BaseAddress} (tokens: {string.Join(", ", users.Select(SampleHomeserver.TokenFor))})");
await homeserver.WaitForShutdownAsync(); // Ctrl+C or SIGTERM
return 0;
