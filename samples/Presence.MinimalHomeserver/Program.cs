using System.Text.Json;
using Presence;
using Presence.Minimal;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddPresence(builder.Configuration.GetSection("Presence")) // options bound; starts and stops with the host
    .UseMembershipView<ConfiguredRooms>()             // who is in which room: your homeserver's own data
    .UseMatrixAuthenticator<ConfiguredTokens>();      // who an access token belongs to: your homeserver's own auth
var app = builder.Build();

app.UseMatrixErrors();                                // PresenceException -> {"errcode", "error"}
app.MapMatrixPresence();                              // GET/PUT /_matrix/client/v3/presence/{userId}/status
app.MapGet("/_matrix/client/v3/sync", async (HttpContext http, IMatrixAuthenticator auth, MatrixPresenceSync sync) =>
{
    if (await auth.AuthenticateRequestAsync(http) is not { } client) return;
    var (_, since) = MatrixPresenceSync.SplitToken(http.Request.Query["since"]);
    PresenceChanges presence;
    using (sync.OpenSync(client, http.Request))     // the device is online while its sync is open
        presence = await sync.WaitForChangesAsync(client.User, since, http.Request, http.RequestAborted);
    http.Response.ContentType = "application/json";
    await using var json = new Utf8JsonWriter(http.Response.Body);
    json.WriteStartObject();
    json.WriteString("next_batch", MatrixPresenceSync.CombineToken("s", presence.NextToken));
    sync.WritePresence(json, presence);               // "presence": {"events": [...]}
    json.WriteEndObject();
});
app.MapMatrixUnrecognized();                          // everything else: 404 M_UNRECOGNIZED
app.Run();
