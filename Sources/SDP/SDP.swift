public enum SDPPlaceholder {}
