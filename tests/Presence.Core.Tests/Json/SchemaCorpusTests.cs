using System.Text.Json;

namespace Presence.Core.Tests.Json;

/// <summary>
/// Writes every kind of document the codec emits, in every field combination, to artifacts/json-corpus/{schema}/,
/// one folder per schema name of ../shared/tools/validate-matrix-json; .ci/run validates the folders against the
/// Matrix specification's schemas. Busy (MSC3026 extends the presence enum) is left out of the corpus.
/// </summary>
public sealed class SchemaCorpusTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly UserId Alice = UserId.Parse("@alice:a.example");
    private static readonly UserId Bob = UserId.Parse("@bob:b.example");

    private static IEnumerable<(string Name, PresenceSnapshot Presence)> Presences()
    {
        foreach (var state in new[] { PresenceState.Online, PresenceState.Unavailable, PresenceState.Offline })
        {
            foreach (var status in new[] { null, "in a meeting" })
            {
                foreach (DateTimeOffset? lastActive in new DateTimeOffset?[] { null, Now.AddMinutes(-3) })
                {
                    foreach (bool active in new[] { false, true })
                    {
                        yield return ($"{state}-{(status is null ? "nostatus" : "status")}-{(lastActive is null ? "noago" : "ago")}-{(active ? "active" : "idle")}".ToLowerInvariant(),
                            new PresenceSnapshot(Alice, state, status, lastActive, active, DeviceKinds.Standard));
                    }
                }
            }
        }
    }

    [Test]
    public void Corpus_IsWrittenForEveryMessageKindAndFieldCombination()
    {
        string root = Path.Combine(RepositoryPaths.Root(), "artifacts", "json-corpus");
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }

        int written = 0;
        void Write(string schema, string name, string json)
        {
            string folder = Path.Combine(root, schema);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, name + ".json"), json);
            using var _ = JsonDocument.Parse(json); // every document is well-formed JSON
            written++;
        }

        foreach (var (name, presence) in Presences())
        {
            Write("cs-event", name, MatrixPresenceCodec.WriteClientEvent(presence, Now));
            Write("cs-get-status-response", name, MatrixPresenceCodec.WriteStatusResponse(presence, Now));
        }

        // This library's namespaced keys: an unknown user (sent as offline) and connected device kinds.
        Write("cs-event", "unknown", MatrixPresenceCodec.WriteClientEvent(PresenceSnapshot.Unknown(Bob), Now));
        Write("cs-event", "kinds-mobile-web", MatrixPresenceCodec.WriteClientEvent(new PresenceSnapshot(Alice, PresenceState.Online, null, Now.AddSeconds(-5), true, DeviceKinds.Mobile | DeviceKinds.Web), Now));
        Write("cs-event", "kinds-limited-unavailable", MatrixPresenceCodec.WriteClientEvent(new PresenceSnapshot(Alice, PresenceState.Unavailable, "away", Now.AddMinutes(-9), false, DeviceKinds.Limited), Now));
        using (var sync = new MemoryStream())
        {
            using (var writer = new Utf8JsonWriter(sync))
            {
                MatrixPresenceCodec.WriteSyncPresence(writer, [.. Presences().Take(3).Select(p => p.Presence), PresenceSnapshot.Unknown(Bob)], Now);
            }

            int i = 0;
            foreach (var ev in JsonDocument.Parse(sync.ToArray()).RootElement.GetProperty("events").EnumerateArray())
            {
                Write("cs-event", $"sync-event-{i++}", ev.GetRawText()); // each event of a /sync presence section
            }
        }

        foreach (var code in new[] { "M_FORBIDDEN", "M_NOT_FOUND", "M_INVALID_PARAM", "M_BAD_JSON", "M_UNKNOWN_TOKEN" })
        {
            Write("cs-error", code.ToLowerInvariant(), MatrixPresenceCodec.WriteError(code, "Explained in words."));
        }

        Write("cs-rate-limited", "limited", MatrixPresenceCodec.WriteRateLimited("Too many requests", TimeSpan.FromMilliseconds(2500)));

        var pushes = Presences().Select(p => p.Presence).ToList();
        var messages = new (string Name, PresenceMessage Message)[]
        {
            ("push", new PresenceMessage(push: pushes)),
            ("push-one", new PresenceMessage(push: [pushes[0]])),
            ("poll", new PresenceMessage(poll: [Bob])),
            ("push-poll-unpoll", new PresenceMessage(push: [pushes[3]], poll: [Bob], unpoll: [UserId.Parse("@dave:b.example")])),
            ("reminder", new PresenceMessage(push: [pushes[1]], poll: [Bob], isReminder: true, promiseLifetime: TimeSpan.FromHours(2))),
            ("lists", new PresenceMessage(listRequests: [new PresenceListRequest(PresenceListAction.Invite, Alice, Bob), new PresenceListRequest(PresenceListAction.Accept, Bob, Alice), new PresenceListRequest(PresenceListAction.Deny, Alice, Bob)])),
            ("everything", new PresenceMessage(push: [pushes[2]], poll: [Bob], unpoll: [Bob], isReminder: true, listRequests: [new PresenceListRequest(PresenceListAction.Invite, Alice, Bob)])),
        };
        foreach (var (name, message) in messages)
        {
            string transaction = MatrixPresenceCodec.WriteTransaction(ServerName.Parse("a.example"), Now, message);
            Write("ss-transaction", name, transaction);
            using var doc = JsonDocument.Parse(transaction);
            int i = 0;
            foreach (var edu in doc.RootElement.GetProperty("edus").EnumerateArray())
            {
                string type = edu.GetProperty("edu_type").GetString()!;
                var content = edu.GetProperty("content");
                string schema = type switch
                {
                    "m.presence" when content.TryGetProperty("poll", out _) || content.TryGetProperty("unpoll", out _) => "ss-edu-legacy",
                    "m.presence" => "ss-edu",
                    "m.presence_invite" => "ss-presence-invite",
                    "m.presence_accept" => "ss-presence-accept",
                    _ => "ss-presence-deny",
                };
                Write(schema, $"{name}-{i++}", edu.GetRawText());
            }
        }

        Assert.That(Directory.GetDirectories(root).Select(Path.GetFileName), Is.EquivalentTo(new[]
        {
            "cs-event", "cs-get-status-response", "cs-error", "cs-rate-limited", "ss-transaction", "ss-edu", "ss-edu-legacy",
            "ss-presence-invite", "ss-presence-accept", "ss-presence-deny",
        }));
        Assert.That(written, Is.GreaterThan(60));
    }
}
