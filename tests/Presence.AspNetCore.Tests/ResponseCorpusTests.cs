using System.Net;
using System.Text.Json;
using static Presence.AspNetCore.Tests.PresenceTestServer;

namespace Presence.AspNetCore.Tests;

/// <summary>
/// Writes what the endpoints really answer over HTTP to artifacts/json-corpus-aspnetcore/{schema}/, one folder per schema
/// name of ../shared/tools/validate-matrix-json; .ci/run validates them against the Matrix specification's schemas (a
/// folder of its own: the codec's corpus test clears artifacts/json-corpus while it runs).
/// </summary>
[CancelAfter(10_000)]
public sealed class ResponseCorpusTests
{
    [Test]
    public async Task Corpus_OfEndpointResponses_IsWritten()
    {
        await using var server = await PresenceTestServer.StartAsync(o => o.StatusWritesPerWindow = 1);
        string root = Path.Combine(RepositoryRoot(), "artifacts", "json-corpus-aspnetcore");
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }

        int written = 0;
        void Write(string schema, string name, (HttpStatusCode Status, JsonElement Body) response, HttpStatusCode expected)
        {
            Assert.That(response.Status, Is.EqualTo(expected), name);
            string folder = Path.Combine(root, schema);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, name + ".json"), response.Body.GetRawText());
            written++;
        }

        Write("cs-error", "missing-token", await server.SendAsync(HttpMethod.Get, StatusPath(Alice), null), HttpStatusCode.Unauthorized);
        Write("cs-error", "unknown-token", await server.SendAsync(HttpMethod.Get, StatusPath(Alice), "nonsense"), HttpStatusCode.Unauthorized);
        Write("cs-error", "not-found", await server.SendAsync(HttpMethod.Get, StatusPath(Alice), "token-bob"), HttpStatusCode.NotFound);
        Write("cs-error", "forbidden", await server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-bob", """{"presence":"online"}"""), HttpStatusCode.Forbidden);
        Write("cs-error", "bad-json", await server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", "{"), HttpStatusCode.BadRequest);
        Write("cs-error", "unrecognized", await server.SendAsync(HttpMethod.Get, "/_matrix/client/v3/nothing", "token-alice"), HttpStatusCode.NotFound);
        using (var big = new ByteArrayContent(new byte[MatrixPresenceEndpointOptions.MaxClientBodyBytes + 1]))
        {
            Write("cs-error", "too-large", await server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", content: big), HttpStatusCode.RequestEntityTooLarge);
        }

        await server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"online","status_msg":"here"}""");
        Write("cs-rate-limited", "limited", await server.SendAsync(HttpMethod.Put, StatusPath(Alice), "token-alice", """{"presence":"online"}"""), HttpStatusCode.TooManyRequests);
        Write("cs-get-status-response", "online", await server.SendAsync(HttpMethod.Get, StatusPath(Alice), "token-bob"), HttpStatusCode.OK);

        // Each m.presence event the /sync helper writes (alice online with a status, bob connected by his sync).
        var sync = new MatrixPresenceSync(server.Engine, server.Clock);
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        using (sync.OpenSync(new MatrixClient(Bob, "DEV"), context.Request))
        {
            var changes = await sync.WaitForChangesAsync(Bob, PresenceStreamToken.None, context.Request);
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                sync.WritePresence(writer, changes);
                writer.WriteEndObject();
            }

            using var doc = JsonDocument.Parse(buffer.ToArray());
            int i = 0;
            foreach (var presenceEvent in doc.RootElement.GetProperty("presence").GetProperty("events").EnumerateArray())
            {
                Write("cs-event", $"sync-{i++}", (HttpStatusCode.OK, presenceEvent), HttpStatusCode.OK);
            }

            Assert.That(i, Is.EqualTo(2));
        }

        Assert.That(written, Is.EqualTo(11));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Presence.Core.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Presence.Core.sln not found above " + AppContext.BaseDirectory);
    }
}
