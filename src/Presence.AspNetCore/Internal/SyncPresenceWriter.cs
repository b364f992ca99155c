using System.Text.Json;

namespace Presence.Internal;

/// <summary>Stand-in until MatrixPresenceCodec.WriteSyncPresence lands from the engine branch; replaced on merge.</summary>
internal static class SyncPresenceWriter
{
    public static void Write(Utf8JsonWriter writer, IReadOnlyList<PresenceSnapshot> changes, DateTimeOffset now)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("events");
        writer.WriteStartArray();
        foreach (var presence in changes)
        {
            if (!presence.IsUnknown)
            {
                writer.WriteRawValue(MatrixPresenceCodec.WriteClientEvent(presence, now));
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
