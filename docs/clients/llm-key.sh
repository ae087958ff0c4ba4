llm keys set airelays --value "$AIRELAYS_TOKEN"
