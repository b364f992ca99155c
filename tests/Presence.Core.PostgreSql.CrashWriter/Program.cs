using System.Globalization;
using Npgsql;
using Presence;

// Usage: CrashWriter <connection string> <schema>
// Saves one presence-list relation (prints "list"), then sets the status of ten users over and over, printing
// "set <n> <user> <unix ms>" after each. The crash test kills it without warning and checks what survived.
var dataSource = NpgsqlDataSource.Create(args[0]);
var store = new PostgreSqlPresenceStore(dataSource, new PostgreSqlPresenceStoreOptions { Schema = args[1] });
var engine = PresenceEngine.Create(
    new PresenceOptions { ServerName = ServerName.Parse("crash.test") },
    new InMemoryMembershipView(),
    store,
    listStore: store.Lists,
    peerSubscriptionStore: store.PeerSubscriptions);
await engine.StartAsync();
await engine.AddToPresenceListAsync(UserId.Parse("@observer:crash.test"), UserId.Parse("@u0:crash.test"));
Console.WriteLine("list");
for (long n = 1; ; n++)
{
    var user = UserId.Parse($"@u{n % 10}:crash.test");
    engine.SetPresence(user, "device", PresenceState.Online, n.ToString(CultureInfo.InvariantCulture));
    Console.WriteLine($"set {n} {user} {TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds()}");
    await Task.Delay(2);
}
